import { Injectable } from '@nestjs/common';
import { actorOf } from '../audit/audit-trail.service';
import { TenancyService } from '../tenancy/tenancy.service';
import { TenantContext } from '../tenancy/tenant-context';

/** Options of {@link ArchivalService.archiveFinished}. */
export interface ArchiveOptions {
  /** Archive executions that finished before this instant. */
  olderThan: Date;
  /** Executions moved per batch (per transaction). 1–10000. Default: 1000. */
  batchSize?: number;
}

/** What an archival run moved. */
export interface ArchiveResult {
  moved: number;
  batches: number;
}

/**
 * Moves finished executions from `execution_snapshots` to `execution_history`.
 *
 * Each batch is one statement (`WITH moved AS (DELETE … RETURNING …) INSERT …`) in its own
 * transaction: a crash at any point leaves every execution in exactly one of the two tables. Rows
 * are claimed with FOR UPDATE SKIP LOCKED, so two archivers running at once split the work instead
 * of colliding.
 */
@Injectable()
export class ArchivalService {
  constructor(
    private readonly tenancy: TenancyService,
    private readonly context: TenantContext,
  ) {}

  /** Archives one tenant's finished executions, a batch per transaction. */
  archiveFinished(tenantId: string, options: ArchiveOptions): Promise<ArchiveResult> {
    return this.inBatches(options, () => this.tenancy.runInTenant(tenantId, () => this.moveBatch(options)));
  }

  /** The system path: archives every tenant's finished executions, a batch per transaction. */
  archiveFinishedForAllTenants(options: ArchiveOptions): Promise<ArchiveResult> {
    return this.inBatches(options, () => this.tenancy.runAsSystem(() => this.moveBatch(options)));
  }

  private async inBatches(options: ArchiveOptions, runBatch: () => Promise<number>): Promise<ArchiveResult> {
    const batchSize = checkBatchSize(options.batchSize);
    const result: ArchiveResult = { moved: 0, batches: 0 };
    for (;;) {
      const moved = await runBatch();
      result.moved += moved;
      result.batches += 1;
      if (moved < batchSize) return result;
    }
  }

  private async moveBatch(options: ArchiveOptions): Promise<number> {
    const transaction = this.context.require('ArchivalService');
    const [{ moved }] = await transaction.manager.query(
      `WITH claimed AS (
         SELECT id FROM execution_snapshots
         WHERE finished_at IS NOT NULL AND finished_at < $1
         LIMIT $2
         FOR UPDATE SKIP LOCKED
       ),
       moved AS (
         -- = ANY(ARRAY(…)) deletes by primary key; a join would hash the whole table every batch.
         DELETE FROM execution_snapshots s WHERE s.id = ANY (ARRAY(SELECT id FROM claimed))
         RETURNING s.*
       ),
       archived AS (
         INSERT INTO execution_history
           (id, tenant_id, flow_id, flow_version_id, status, input, state, output, error, version, created_at, completed_at)
         SELECT id, tenant_id, flow_id, flow_version_id, status, input, state, output, error, version, created_at, finished_at
         FROM moved
         RETURNING 1
       ),
       counted AS (SELECT count(*)::int AS moved FROM archived),
       audited AS (
         -- One entry per batch, in the tenant's chain (or the system's, on the system path).
         INSERT INTO audit_logs (tenant_id, actor, action, target_type, details)
         SELECT NULLIF(current_setting('app.current_tenant_id', true), '')::uuid, $3, 'executions.archived',
                'execution_history', jsonb_build_object('moved', moved, 'finishedBefore', $1::timestamptz)
         FROM counted WHERE moved > 0
       )
       SELECT moved FROM counted`,
      [options.olderThan, checkBatchSize(options.batchSize), actorOf(transaction)],
    );
    return moved;
  }
}

function checkBatchSize(batchSize = 1000): number {
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
    throw new RangeError(`batchSize must be a whole number from 1 to 10000, got ${batchSize}`);
  }
  return batchSize;
}

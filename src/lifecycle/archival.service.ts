import { Injectable } from '@nestjs/common';
import { archiveBatch } from './archive-batch';
import { TenancyService } from '../tenant-context/tenancy.service';
import { TenantContext } from '../tenant-context/tenant-context';
import { parseTenantId } from '../tenancy/tenant-id';

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
 * Each batch is one transaction ({@link archiveBatch}): a crash at any point leaves every execution
 * in exactly one of the two tables. Rows are claimed with FOR UPDATE SKIP LOCKED, so two archivers
 * running at once split the work instead of colliding.
 */
@Injectable()
export class ArchivalService {
  constructor(
    private readonly tenancy: TenancyService,
    private readonly context: TenantContext,
  ) {}

  /** Archives one tenant's finished executions, a batch per transaction. */
  archiveFinished(tenantId: string, options: ArchiveOptions): Promise<ArchiveResult> {
    const tenant = parseTenantId(tenantId);
    return this.inBatches(options, () => this.tenancy.runInTenant(tenant, () => this.moveBatch(options, tenant)));
  }

  /**
   * The system path: archives every tenant's finished executions, tenant by tenant, a batch per
   * transaction. Each batch touches one tenant's rows only, so that on Citus it is a router
   * statement on one shard group instead of a scan of every shard.
   */
  async archiveFinishedForAllTenants(options: ArchiveOptions): Promise<ArchiveResult> {
    checkBatchSize(options.batchSize);
    const tenants = await this.tenancy.runAsSystem(async () =>
      (await this.context.require('ArchivalService').manager.query(`SELECT id FROM tenants ORDER BY id`)) as { id: string }[],
    );
    const total: ArchiveResult = { moved: 0, batches: 0 };
    for (const { id } of tenants) {
      const result = await this.inBatches(options, () => this.tenancy.runAsSystem(() => this.moveBatch(options, id)));
      total.moved += result.moved;
      total.batches += result.batches;
    }
    return total;
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

  private moveBatch(options: ArchiveOptions, tenantId: string): Promise<number> {
    const transaction = this.context.require('ArchivalService');
    return archiveBatch(transaction.manager, {
      tenantId,
      finishedBefore: options.olderThan,
      batchSize: checkBatchSize(options.batchSize),
    });
  }

}

function checkBatchSize(batchSize = 1000): number {
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
    throw new RangeError(`batchSize must be a whole number from 1 to 10000, got ${batchSize}`);
  }
  return batchSize;
}

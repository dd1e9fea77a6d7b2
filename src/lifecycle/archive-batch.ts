import type { EntityManager } from 'typeorm';
import { WriteNotStoredError } from './lifecycle.errors';

/** One batch of {@link archiveBatch}. */
export interface ArchiveBatch {
  tenantId: string;
  finishedBefore: Date;
  batchSize: number;
}

/**
 * Moves up to `batchSize` of one tenant's finished executions from `execution_snapshots` to
 * `execution_history`, with one audit entry, inside the caller's transaction; resolves to the
 * number moved.
 *
 * Four statements, each naming the tenant, rather than one `WITH moved AS (DELETE … RETURNING)
 * INSERT …`: Citus runs an INSERT fed by a CTE through the coordinator with COPY, which row level
 * security refuses, while each of these is a router statement on the tenant's shard group (the
 * INSERT … SELECT between co-located tables included). Claimed rows are locked, so the insert and
 * the delete see exactly them; the delete runs only once every one of them was archived.
 */
export async function archiveBatch(manager: EntityManager, batch: ArchiveBatch): Promise<number> {
  const claimed: { id: string }[] = await manager.query(
    `SELECT id FROM execution_snapshots
     WHERE tenant_id = $1 AND finished_at IS NOT NULL AND finished_at < $2
     LIMIT $3
     FOR UPDATE SKIP LOCKED`,
    [batch.tenantId, batch.finishedBefore, batch.batchSize],
  );
  if (claimed.length === 0) return 0;
  const ids = claimed.map((row) => row.id);
  const archived: unknown[] = await manager.query(
    `INSERT INTO execution_history AS h
       (id, tenant_id, flow_id, flow_version_id, status, input, state, output, error, version, created_at, completed_at)
     SELECT id, tenant_id, flow_id, flow_version_id, status, input, state, output, error, version, created_at, finished_at
     FROM execution_snapshots
     WHERE tenant_id = $1 AND id = ANY ($2::uuid[])
     RETURNING h.id`,
    [batch.tenantId, ids],
  );
  // Never delete what was not archived: the transaction ends here, and every execution stays live.
  if (archived.length !== ids.length) throw new WriteNotStoredError(`the archive of ${ids.length - archived.length} of ${ids.length} executions`);
  await manager.query(`DELETE FROM execution_snapshots WHERE tenant_id = $1 AND id = ANY ($2::uuid[])`, [batch.tenantId, ids]);
  await manager.query(
    `INSERT INTO audit_logs (tenant_id, action, target_type, details)
     VALUES ($1, 'executions.archived', 'execution_history', jsonb_build_object('moved', $2::int, 'finishedBefore', $3::timestamptz))`,
    [batch.tenantId, ids.length, batch.finishedBefore],
  );
  return ids.length;
}

import { ArchivalService } from '../../src';
import { startBenchContext } from '../bench-app';
import { seed } from '../bench-database';
import type { ReportRow } from '../harness';
import type { Dataset } from './dataset';

/** Rows per second moved from execution_snapshots to execution_history by the system archiver. */
export async function archival(url: string, data: Dataset, options: { rows: number; batchSize: number; poolSize: number }): Promise<ReportRow[]> {
  await seed(url, `DELETE FROM execution_snapshots`);
  await seed(
    url,
    `WITH version_ids AS (SELECT array_agg(id ORDER BY id) AS ids FROM flow_versions)
     INSERT INTO execution_snapshots (tenant_id, flow_id, flow_version_id, status, state, output, finished_at, created_at)
     SELECT v.tenant_id, v.flow_id, v.id, 'completed', '{"step": 9}', '{"ok": true}', now() - interval '1 day', now() - interval '2 days'
     FROM generate_series(1, $1) n
     CROSS JOIN LATERAL (SELECT ids[1 + n % cardinality(ids)] AS pick FROM version_ids) p
     JOIN flow_versions v ON v.id = p.pick`,
    [options.rows],
  );
  await seed(url, 'VACUUM ANALYZE execution_snapshots');
  const app = await startBenchContext(url, options.poolSize);
  try {
    const started = performance.now();
    const result = await app.get(ArchivalService).archiveFinishedForAllTenants({ olderThan: new Date(), batchSize: options.batchSize });
    const elapsed = performance.now() - started;
    const rowsPerSec = (result.moved / elapsed) * 1000;
    return [
      {
        group: 'archival',
        name: `archive ${result.moved.toLocaleString('en')} rows, batches of ${options.batchSize}`,
        ops: result.moved,
        opsPerSec: rowsPerSec,
        p50Ms: elapsed / result.batches,
        p99Ms: NaN,
        target: '≥ 50,000 rows/s',
        met: rowsPerSec >= 50_000,
      },
    ];
  } finally {
    await app.close();
  }
}

import { ArchivalService } from '../../src';
import { startBenchContext } from '../bench-app';
import { seed } from '../bench-database';
import type { ReportRow } from '../harness';
import { type Dataset, seedSnapshots } from './dataset';

/** Rows per second moved from execution_snapshots to execution_history by the system archiver. */
export async function archival(url: string, data: Dataset, options: { rows: number; batchSize: number; poolSize: number }): Promise<ReportRow[]> {
  await seed(url, `DELETE FROM execution_snapshots`);
  await seedSnapshots(url, data, options.rows, {
    status: `'completed'`,
    state: `'{"step": 9}'`,
    output: `'{"ok": true}'`,
    finished_at: `now() - interval '1 day'`,
    created_at: `now() - interval '2 days'`,
  });
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

import { execFileSync } from 'node:child_process';
import { createBenchDatabase, migrate } from '../bench-database';
import type { ReportRow } from '../harness';

/** A full migration run on an empty database: in-process, and through `npm run migration:run`. */
export async function migrations(options: { withCli: boolean }): Promise<ReportRow[]> {
  const rows: ReportRow[] = [];
  const db = await createBenchDatabase();
  try {
    const ms = await migrate(db.url);
    rows.push({ group: 'migrations', name: 'runMigrations() on an empty database', ops: 1, opsPerSec: NaN, p50Ms: ms, p99Ms: NaN, target: '≤ 2000 ms', met: ms <= 2000 });
  } finally {
    await db.drop();
  }
  if (options.withCli) {
    const cliDb = await createBenchDatabase();
    try {
      const started = performance.now();
      execFileSync('npm', ['run', '--silent', 'migration:run'], { env: { ...process.env, DATABASE_URL: cliDb.url }, stdio: 'ignore' });
      const ms = performance.now() - started;
      rows.push({ group: 'migrations', name: 'npm run migration:run (CLI, incl. ts-node start)', ops: 1, opsPerSec: NaN, p50Ms: ms, p99Ms: NaN });
    } finally {
      await cliDb.drop();
    }
  }
  return rows;
}

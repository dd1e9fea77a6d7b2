/**
 * `npm run bench [-- --quick]`: measures the module against raw `pg` in one run, on a database of
 * its own, prints a table with ratios to baselines measured in the same run, and writes
 * bench/results/latest.json.
 */
import 'reflect-metadata';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { createBenchDatabase, migrate, seed } from './bench-database';
import type { ReportRow } from './harness';
import { printReport } from './report';
import { archival } from './scenarios/archival';
import { audit } from './scenarios/audit';
import { citus } from './scenarios/citus';
import { embeddedStart } from './scenarios/embedded-start';
import { fairness } from './scenarios/fairness';
import { seedDataset } from './scenarios/dataset';
import { httpRead } from './scenarios/http';
import { migrations } from './scenarios/migrations';
import { peer } from './scenarios/peer';
import { scale } from './scenarios/scale';
import { scopedRead } from './scenarios/scoped-read';
import { snapshotSave } from './scenarios/snapshot-save';

const quick = process.argv.includes('--quick');
/** `--only=scoped,http,save,audit,fairness,peer,scale,archival,embedded,migrations,citus`: run a subset. */
const only = process.argv.find((arg) => arg.startsWith('--only='))?.slice('--only='.length).split(',');
const wanted = (name: string) => !only || only.includes(name);
const POOL = 10;
const CALLERS = 20;
const durationMs = quick ? 1_000 : 5_000;

async function main(): Promise<void> {
  const db = await createBenchDatabase();
  const rows: ReportRow[] = [];
  let plan = '';
  try {
    await migrate(db.url);
    const data = await seedDataset(db.url, 1000, 1);
    const [{ server }] = await seed(db.url, `SELECT current_setting('server_version') AS server`);
    const step = async <T>(label: string, work: () => Promise<T>): Promise<T> => {
      process.stderr.write(`… ${label}\n`);
      return work();
    };
    // Process starts first: after the million-row scenarios the local server's autovacuum keeps a
    // core busy for a while, which says nothing about how fast `npm start` is.
    if (wanted('embedded')) rows.push(...(await step('embedded start', () => embeddedStart(quick ? 1 : 3))));
    if (wanted('migrations')) rows.push(...(await step('migrations', () => migrations({ withCli: !quick }))));
    if (wanted('scoped')) rows.push(...(await step('scoped read', () => scopedRead(db.url, data, { durationMs, concurrency: CALLERS, poolSize: POOL }))));
    if (wanted('http')) rows.push(...(await step('http', () => httpRead(db.url, data, { durationMs, connections: CALLERS, poolSize: POOL }))));
    if (wanted('save')) rows.push(...(await step('snapshot save', () => snapshotSave(db.url, data, { durationMs, concurrency: CALLERS, poolSize: POOL }))));
    if (wanted('audit')) rows.push(...(await step('audit', () => audit(db.url, data, { durationMs, concurrency: CALLERS, poolSize: POOL }))));
    if (wanted('fairness')) rows.push(...(await step('fairness', () => fairness(db.url, { durationMs, poolSize: POOL }))));
    if (wanted('peer')) rows.push(...(await step('peer', async () => peer(db.url, await seedDataset(db.url, 50, 1000), { durationMs, concurrency: CALLERS, poolSize: POOL }))));
    if (wanted('scale')) {
      const scaled = await step('scale', () =>
        scale(db.url, data, { small: 10_000, large: quick ? 100_000 : 1_000_000, durationMs, connections: CALLERS, poolSize: POOL }),
      );
      rows.push(...scaled.rows);
      plan = scaled.plan;
    }
    if (wanted('citus')) rows.push(...(await step('citus', () => citus(db.url, data, { durationMs, concurrency: CALLERS, poolSize: POOL }))));
    if (wanted('archival')) rows.push(...(await step('archival', () => archival(db.url, data, { rows: quick ? 20_000 : 200_000, batchSize: 5_000, poolSize: POOL }))));

    const machine = {
      cpus: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      postgres: String(server),
      pool: POOL,
      callers: CALLERS,
      durationMs,
      quick,
    };
    printReport(rows, machine, plan);
    const dir = join(__dirname, 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'latest.json'), JSON.stringify({ at: new Date().toISOString(), machine, rows, plan }, null, 2));
  } finally {
    await db.drop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ReportRow, summarise } from '../harness';

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

/** `npm start` (embedded database) until GET /flows first answers, in ms. */
async function timeStart(cacheDir: string): Promise<number> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn('npm', ['start'], {
    cwd: join(__dirname, '..', '..'),
    env: { ...process.env, PORT: String(port), FDL_USE_DATABASE: '', FDL_DATA_DIR: '', FDL_CACHE_DIR: cacheDir },
    stdio: 'ignore',
    detached: true,
  });
  try {
    for (;;) {
      if (performance.now() - started > 60_000) throw new Error('npm start did not answer within 60 s');
      try {
        const res = await fetch(`http://127.0.0.1:${port}/flows`);
        if (res.status === 400) return performance.now() - started; // answered (no tenant header)
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    process.kill(-child.pid!, 'SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

/**
 * Cold (empty snapshot cache: initdb + migrations) and warm (snapshot) starts of the example app,
 * `runs` of each: the median is the figure (p50), the slowest is shown in the p99 column.
 */
export async function embeddedStart(runs: number): Promise<ReportRow[]> {
  const cold: number[] = [];
  const warm: number[] = [];
  for (let run = 0; run < runs; run++) {
    const cacheDir = mkdtempSync(join(tmpdir(), 'fdl-bench-cache-'));
    try {
      cold.push(await timeStart(cacheDir));
      warm.push(await timeStart(cacheDir));
    } finally {
      rmSync(cacheDir, { recursive: true, force: true });
    }
  }
  const row = (name: string, ms: number[], target: number): ReportRow => {
    // With so few samples summarise's p50 is the median and its p99 the slowest; no rate to report.
    const measured = summarise(`${name}, median of ${runs}`, ms, NaN);
    return { group: 'embedded', ...measured, target: `≤ ${target} ms`, met: measured.p50Ms <= target };
  };
  return [
    row('npm start → first response, cold (initdb + migrations)', cold, 5000),
    row('npm start → first response, warm (snapshot)', warm, 2000),
  ];
}

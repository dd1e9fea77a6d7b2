import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The shared Citus kit (a coordinator and two workers from this machine's PostgreSQL 15). */
export const CITUS_KIT = path.resolve(__dirname, '..', '..', '..', 'shared', 'citus');

/** Why the Citus tests cannot run here, or undefined when they can. */
export function citusUnavailable(): string | undefined {
  if (!existsSync(path.join(CITUS_KIT, 'cluster.sh'))) return `${CITUS_KIT} is absent: the Citus kit is not on this machine`;
  if (!existsSync('/usr/lib/postgresql/15/bin/initdb')) return 'PostgreSQL 15 server binaries are not installed (Citus 13.2.2 is built for 15)';
  return undefined;
}

/** Three consecutive loopback ports that were free a moment ago. */
async function freePortRun(): Promise<number> {
  const isFree = (port: number) =>
    new Promise<boolean>((resolve) => {
      const server = createServer()
        .once('error', () => resolve(false))
        .listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 20_000);
    if ((await isFree(base)) && (await isFree(base + 1)) && (await isFree(base + 2))) return base;
  }
  throw new Error('no three consecutive free loopback ports');
}

/**
 * Starts a Citus cluster for one test run (`cluster.sh start` in a fresh directory on free ports,
 * installing the extension first when it is missing). Resolves to its coordinator port and a stop
 * function that also removes its files.
 */
export async function startCitusCluster(): Promise<{ basePort: number; stop(): Promise<void> }> {
  await run('bash', [path.join(CITUS_KIT, 'install.sh')], { timeout: 15 * 60_000 });
  const dir = mkdtempSync(path.join(tmpdir(), 'fdl-citus-'));
  const basePort = await freePortRun();
  try {
    await run('bash', [path.join(CITUS_KIT, 'cluster.sh'), 'start', dir, String(basePort)], { timeout: 120_000 });
  } catch (error) {
    await run('bash', [path.join(CITUS_KIT, 'cluster.sh'), 'stop', dir]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    basePort,
    stop: async () => {
      await run('bash', [path.join(CITUS_KIT, 'cluster.sh'), 'stop', dir]).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

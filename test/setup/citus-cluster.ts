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

/** A running Citus cluster of the tests: a coordinator on `basePort`, workers on the next two ports. */
export interface CitusCluster {
  basePort: number;
  /** Stops one node (`pg_ctl stop -m fast`), as an operator or a crash would take a worker away. */
  stopNode(port: number): Promise<void>;
  /** Starts a node stopped by {@link stopNode} again, waiting until it accepts connections. */
  startNode(port: number): Promise<void>;
  /** Stops every node and removes the cluster's files. */
  stop(): Promise<void>;
}

/**
 * Starts a Citus cluster (`cluster.sh start` in a fresh directory on free ports, installing the
 * extension first when it is missing): the one of a test run, or one a spec file keeps to itself.
 */
export async function startCitusCluster(): Promise<CitusCluster> {
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
  // cluster.sh lays each node out as DIR/n<port>, logging to DIR/n<port>.log, owned by postgres.
  const pgCtl = (port: number, ...args: string[]) => {
    const command = ['/usr/lib/postgresql/15/bin/pg_ctl', '-D', path.join(dir, `n${port}`), '-w', '-t', '60', ...args];
    return process.getuid?.() === 0 ? run('runuser', ['-u', 'postgres', '--', ...command]) : run(command[0], command.slice(1));
  };
  return {
    basePort,
    stopNode: async (port) => void (await pgCtl(port, '-m', 'fast', 'stop')),
    startNode: async (port) => void (await pgCtl(port, '-l', path.join(dir, `n${port}.log`), 'start')),
    stop: async () => {
      await run('bash', [path.join(CITUS_KIT, 'cluster.sh'), 'stop', dir]).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

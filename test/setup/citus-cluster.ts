import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The project's cluster starter: a coordinator and two workers from this machine's PostgreSQL 15. */
export const CITUS_CLUSTER = path.resolve(__dirname, '..', '..', 'scripts', 'citus', 'cluster.sh');

/** Why the Citus tests cannot run here, or undefined when they can. */
export function citusUnavailable(): string | undefined {
  if (!existsSync('/usr/lib/postgresql/15/bin/initdb')) return 'PostgreSQL 15 server binaries are not installed (Citus 13.2.2 is built for 15)';
  try {
    execFileSync('bash', [CITUS_CLUSTER, 'available'], { stdio: 'ignore' });
  } catch {
    return 'the citus extension is not installed in PostgreSQL 15 (the project does not install it: build Citus 13.2.2 from its upstream release to run these tests)';
  }
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
  /** Starts one more node with Citus loaded on `port`: a worker to add to a database (`citus_add_node`). */
  addNode(port: number): Promise<void>;
  /** Stops every node and removes the cluster's files. */
  stop(): Promise<void>;
}

/**
 * Starts a Citus cluster (`cluster.sh start` in a fresh directory on free ports, installing the
 * extension first when it is missing): the one of a test run, or one a spec file keeps to itself.
 */
export async function startCitusCluster(): Promise<CitusCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'fdl-citus-'));
  chmodSync(dir, 0o755);
  const basePort = await freePortRun();
  try {
    await run('bash', [CITUS_CLUSTER, 'start', dir, String(basePort)], { timeout: 120_000 });
  } catch (error) {
    await run('bash', [CITUS_CLUSTER, 'stop', dir]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  // scripts/citus/cluster.sh lays each node out as DIR/n<port>, logging to DIR/n<port>.log, owned by postgres.
  const pgCtl = (port: number, ...args: string[]) => {
    const command = ['/usr/lib/postgresql/15/bin/pg_ctl', '-D', path.join(dir, `n${port}`), '-w', '-t', '60', ...args];
    return process.getuid?.() === 0 ? run('runuser', ['-u', 'postgres', '--', ...command]) : run(command[0], command.slice(1));
  };
  return {
    basePort,
    stopNode: async (port) => void (await pgCtl(port, '-m', 'fast', 'stop')),
    startNode: async (port) => void (await pgCtl(port, '-l', path.join(dir, `n${port}.log`), 'start')),
    addNode: async (port) => void (await run('bash', [CITUS_CLUSTER, 'addnode', dir, String(port)], { timeout: 120_000 })),
    stop: async () => {
      await run('bash', [CITUS_CLUSTER, 'stop', dir]).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

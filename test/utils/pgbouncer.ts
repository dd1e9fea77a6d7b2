import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { freePort } from './free-port';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';

/** Where Debian installs it; .ci/run installs the package when missing. */
export const PGBOUNCER = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'].find((path) => existsSync(path));

/** `binary`'s version as [major, minor], or undefined when it does not run. */
function versionOf(binary: string): [number, number] | undefined {
  try {
    const match = /PgBouncer (\d+)\.(\d+)/.exec(execFileSync(binary, ['--version'], { encoding: 'utf8' }));
    return match ? [Number(match[1]), Number(match[2])] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A PgBouncer 1.21+ (the first with `max_prepared_statements`) where one is installed: the binary
 * named by FDL_TEST_PGBOUNCER, else one under /opt/pgbouncer*\/bin, else Debian's if it is that new.
 * Debian 12 packages 1.18; a newer one is built from its upstream source by hand, never by the project.
 */
export const MODERN_PGBOUNCER: { binary: string; version: string } | undefined = (() => {
  const optional = existsSync('/opt') ? readdirSync('/opt').filter((dir) => dir.startsWith('pgbouncer')).map((dir) => join('/opt', dir, 'bin', 'pgbouncer')) : [];
  const candidates = [process.env.FDL_TEST_PGBOUNCER, ...optional, PGBOUNCER].filter((path): path is string => !!path && existsSync(path));
  for (const binary of candidates) {
    const version = versionOf(binary);
    if (version && (version[0] > 1 || version[1] >= 21)) return { binary, version: version.join('.') };
  }
  return undefined;
})();

export const MODERN_PGBOUNCER_SKIP_REASON = 'no PgBouncer 1.21+ is installed (Debian packages 1.18; set FDL_TEST_PGBOUNCER to a newer binary)';

export interface PgBouncerOptions {
  /** The binary to run; Debian's by default. */
  binary?: string;
  /** More `[pgbouncer]` settings, e.g. `{ max_prepared_statements: '200' }`. */
  settings?: Record<string, string>;
}

export interface PgBouncer {
  /** The URL of `database` through the bouncer. */
  urlOf(database: string): string;
  stop(): Promise<void>;
}

/**
 * Starts PgBouncer in transaction pooling mode on a free loopback port, in front of the test
 * server, with fewer server connections than the application's pool: server connections are then
 * handed from one client connection to another between transactions, which is exactly where session
 * state leaks if anything but SET LOCAL is used.
 */
export async function startPgBouncer(serverUrl: string, serverPoolSize = 3, options: PgBouncerOptions = {}): Promise<PgBouncer> {
  const binary = options.binary ?? PGBOUNCER;
  if (!binary) throw new Error('pgbouncer is not installed (apt-get install pgbouncer)');
  const server = new URL(serverUrl);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'fdl-pgbouncer-'));
  chmodSync(dir, 0o777);
  const user = decodeURIComponent(server.username || 'postgres');
  const password = decodeURIComponent(server.password);
  writeFileSync(join(dir, 'users.txt'), `"${user}" ""\n`);
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=${server.hostname} port=${server.port || 5432} user=${user}${password ? ` password=${password}` : ''}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(dir, 'users.txt')}`,
      'pool_mode = transaction',
      `default_pool_size = ${serverPoolSize}`,
      'max_client_conn = 500',
      'ignore_startup_parameters = extra_float_digits,statement_timeout',
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      ...Object.entries(options.settings ?? {}).map(([name, value]) => `${name} = ${value}`),
      '',
    ].join('\n'),
  );
  chmodSync(join(dir, 'pgbouncer.ini'), 0o644);
  chmodSync(join(dir, 'users.txt'), 0o644);
  // PgBouncer refuses to run as root.
  const asRoot = process.getuid?.() === 0;
  const child: ChildProcess = asRoot
    ? spawn('runuser', ['-u', 'postgres', '--', binary, join(dir, 'pgbouncer.ini')], { stdio: 'ignore' })
    : spawn(binary, [join(dir, 'pgbouncer.ini')], { stdio: 'ignore' });
  const urlOf = (database: string) => {
    const url = new URL(serverUrl);
    url.hostname = '127.0.0.1';
    url.port = String(port);
    url.pathname = `/${database}`;
    url.password = '';
    return url.toString();
  };
  for (let attempt = 0; ; attempt++) {
    const probe = new Client({ connectionString: urlOf(server.pathname.slice(1) || 'postgres'), connectionTimeoutMillis: 1000 });
    try {
      await probe.connect();
      await probe.query('SELECT 1');
      await probe.end();
      break;
    } catch (error) {
      await probe.end().catch(() => undefined);
      if (attempt > 50) {
        child.kill();
        throw new Error(`pgbouncer did not start: ${(error as Error).message}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return {
    urlOf,
    stop: async () => {
      // SIGTERM is PgBouncer's immediate shutdown (SIGINT would wait for clients to leave).
      const exited = new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(killer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}


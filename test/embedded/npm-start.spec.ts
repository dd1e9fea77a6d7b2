import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../utils/free-port';

const root = join(__dirname, '..', '..');
/** Exactly what `npm start` runs, without npm in between (npm would stand between the signals and the app). */
const [command, ...args] = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts.start as string).split(' ');

interface Started {
  child: ChildProcess;
  port: number;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

describe('npm start on the embedded database', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'fdl-npm-start-'));
  const running: ChildProcess[] = [];
  afterAll(() => {
    running.forEach((child) => child.kill('SIGKILL'));
    rmSync(scratch, { recursive: true, force: true });
  });

  async function start(env: NodeJS.ProcessEnv): Promise<Started> {
    const port = await freePort();
    const child = spawn(command, args, {
      cwd: root,
      env: { ...process.env, FDL_USE_DATABASE: '', DATABASE_URL: '', FDL_DATA_DIR: '', FDL_CACHE_DIR: join(scratch, 'cache'), PORT: String(port), NO_COLOR: '1', ...env },
    });
    running.push(child);
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    return { child, port, output: () => output, exited };
  }

  /** Resolves once the app answers HTTP; rejects with its output if it exits first. */
  async function serving(app: Started): Promise<Started> {
    let exited = false;
    void app.exited.then(() => (exited = true));
    for (const deadline = Date.now() + 90_000; Date.now() < deadline && !exited; ) {
      const answered = await fetch(`http://127.0.0.1:${app.port}/flows`).then(() => true, () => false);
      if (answered) return app;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`the app did not serve:\n${app.output()}`);
  }

  /** The response body, parsed; throws on a status other than `expected`. */
  async function call<T = { id: string }>(app: Started, method: string, path: string, expected: number, body?: object, tenant?: string): Promise<T> {
    const response = await fetch(`http://127.0.0.1:${app.port}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(tenant ? { 'x-tenant-id': tenant } : {}) },
      body: body && JSON.stringify(body),
    });
    if (response.status !== expected) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  }

  it.each([
    [{ FDL_USE_DATABASE: 'banana' }, `error: FDL_USE_DATABASE must be 'true' (use DATABASE_URL) or 'false'/unset (embedded PostgreSQL), got "banana"`],
    [{ FDL_USE_DATABASE: 'true' }, 'error: DATABASE_URL is not set'],
    [{ FDL_DB_POOL_SIZE: 'ten' }, 'error: FDL_DB_POOL_SIZE'],
  ])('refuses %j with one line naming the variable, and exit code 1', async (env, message) => {
    const app = await start(env);
    const { code } = await app.exited;
    expect(code).toBe(1);
    expect(app.output().trim().split('\n')).toEqual([expect.stringContaining(message)]);
  });

  it('keeps FDL_DATA_DIR across a SIGTERM stop and a SIGINT stop; a second process on it is refused', async () => {
    const dataDir = join(scratch, 'data');
    const first = await serving(await start({ FDL_DATA_DIR: dataDir }));
    expect(first.output()).toMatch(new RegExp(`Using embedded PostgreSQL \\(PGlite, data in ${dataDir}; fresh`));
    const tenant = (await call(first, 'POST', '/tenants', 201, { name: 'kept' })).id;
    await call(first, 'POST', '/flows', 201, { name: 'survives restarts' }, tenant);

    const second = await start({ FDL_DATA_DIR: dataDir });
    expect((await second.exited).code).toBe(1);
    expect(second.output().trim().split('\n')).toEqual([
      expect.stringContaining(`error: FDL_DATA_DIR ${dataDir} is in use by process ${first.child.pid}`),
    ]);

    first.child.kill('SIGTERM');
    expect(await first.exited).toEqual({ code: null, signal: 'SIGTERM' }); // Nest closes, then re-raises the signal
    expect(existsSync(join(dataDir, 'fdl-runtime-db.lock'))).toBe(false);

    const reopened = await serving(await start({ FDL_DATA_DIR: dataDir }));
    expect(reopened.output()).toContain(`data in ${dataDir}; data-dir`);
    const flows = await call<{ name: string }[]>(reopened, 'GET', '/flows', 200, undefined, tenant);
    expect(flows.map((flow) => flow.name)).toEqual(['survives restarts']);
    // Isolation holds on the reopened cluster: another tenant sees none of it.
    const other = (await call(reopened, 'POST', '/tenants', 201, { name: 'other' })).id;
    expect(await call(reopened, 'GET', '/flows', 200, undefined, other)).toEqual([]);

    reopened.child.kill('SIGINT');
    expect(await reopened.exited).toEqual({ code: null, signal: 'SIGINT' });
    expect(existsSync(join(dataDir, 'fdl-runtime-db.lock'))).toBe(false);
  }, 240_000); // three process starts on one data directory, each up to 90 s on a busy machine
});

import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseConfigError } from '../../src';
import { EmbeddedDatabase } from '../../src/embedded/embedded-database';
import { migrationDataSource } from '../utils/migrate';
import { asSystem, asTenant } from '../utils/tenant-sql';

describe('Embedded PostgreSQL (PGlite)', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'fdl-embedded-'));
  const cacheDir = join(scratch, 'cache');
  const migrate = async (url: string) => {
    const dataSource = await migrationDataSource(url).setOptions({ poolSize: 1 }).initialize();
    try {
      await dataSource.runMigrations({ transaction: 'all' });
    } finally {
      await dataSource.destroy();
    }
  };
  const start = async (dataDir?: string, cache = cacheDir, log?: (message: string) => void) => {
    const database = EmbeddedDatabase.launch({ dataDir, cacheDir: cache, snapshotKey: 'test' });
    const { url, startedFrom } = await database.ready({ prepare: migrate, log });
    return { url, startedFrom, stop: () => database.stop() };
  };
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('listens only where this OS user may reach: a Unix socket in a 0700 directory, removed at stop', async () => {
    const database = await start(undefined, join(scratch, 'cache-of-the-socket-test'));
    // A socket URL names the socket's directory, percent-encoded, as its host (libpq's convention).
    const socketDir = decodeURIComponent(new URL(database.url).hostname);
    try {
      expect(socketDir).toMatch(/^\//);
      const { mode, uid } = statSync(socketDir);
      expect({ groupAndOthers: mode & 0o077, owner: uid }).toEqual({ groupAndOthers: 0, owner: process.getuid!() });
      expect(existsSync(join(socketDir, '.s.PGSQL.5432'))).toBe(true);
    } finally {
      await database.stop();
    }
    expect(existsSync(socketDir)).toBe(false);
  });

  it('runs the same migrations and enforces the same RLS; a second start loads the migrated snapshot', async () => {
    const first = await start();
    try {
      expect(first.startedFrom).toBe('fresh');
      const [a, b] = await asSystem(first.url, async (c) => (await c.query(`INSERT INTO tenants (name) VALUES ('a'), ('b') RETURNING id`)).rows.map((r) => r.id));
      await asTenant(first.url, a, (c) => c.query(`INSERT INTO flows (tenant_id, name) VALUES ($1, 'mine')`, [a]), true);
      expect(await asTenant(first.url, b, async (c) => (await c.query('SELECT * FROM flows')).rowCount)).toBe(0);
      expect(await asTenant(first.url, a, async (c) => (await c.query('SELECT * FROM flows')).rowCount)).toBe(1);
      await expect(asTenant(first.url, b, (c) => c.query(`INSERT INTO flows (tenant_id, name) VALUES ($1, 'forged')`, [a]))).rejects.toMatchObject({ code: '42501' });
    } finally {
      await first.stop();
    }
    const second = await start();
    try {
      expect(second.startedFrom).toBe('snapshot');
      // The snapshot holds the migrated schema only, not the first run's rows.
      expect(await asSystem(second.url, async (c) => (await c.query('SELECT count(*)::int AS n FROM tenants')).rows[0].n)).toBe(0);
    } finally {
      await second.stop();
    }
  });

  it('keeps its data across restarts in a data directory, which a second process cannot open', async () => {
    const dataDir = join(scratch, 'data');
    const first = await start(dataDir);
    try {
      await asSystem(first.url, (c) => c.query(`INSERT INTO tenants (name) VALUES ('kept')`));
      await expect(start(dataDir)).rejects.toThrow(DatabaseConfigError);
      await expect(start(dataDir)).rejects.toThrow(new RegExp(`FDL_DATA_DIR ${dataDir} is in use by process ${process.pid}`));
    } finally {
      await first.stop();
    }
    const reopened = await start(dataDir);
    try {
      expect(reopened.startedFrom).toBe('data-dir');
      expect(await asSystem(reopened.url, async (c) => (await c.query(`SELECT name FROM tenants`)).rows.map((r) => r.name))).toEqual(['kept']);
    } finally {
      await reopened.stop();
    }
  });

  it('takes over the lock of a process that no longer runs', async () => {
    const dataDir = join(scratch, 'stale');
    const first = await start(dataDir);
    await first.stop();
    writeFileSync(join(dataDir, 'fdl-runtime-db.lock'), '999999');
    const again = await start(dataDir);
    await again.stop();
    expect(again.startedFrom).toBe('data-dir');
  });

  it('starts without its cache when the cache directory cannot be used, and says why', async () => {
    const notADirectory = join(scratch, 'a-file');
    writeFileSync(notADirectory, '');
    const logged: string[] = [];
    const database = await start(undefined, join(notADirectory, 'cache'), (message) => logged.push(message));
    try {
      expect(database.startedFrom).toBe('fresh');
      expect(await asSystem(database.url, async (c) => (await c.query(`SELECT to_regclass('flows') IS NOT NULL AS ok`)).rows[0].ok)).toBe(true);
    } finally {
      await database.stop();
    }
    expect(logged).toEqual([expect.stringMatching(/^embedded snapshot not saved: ENOTDIR/)]);
  });

  it('replaces a snapshot it cannot load with a fresh cluster, and says so', async () => {
    const cache = join(scratch, 'corrupt-cache');
    mkdirSync(cache);
    writeFileSync(join(cache, 'cluster-test.tar'), 'not a tar archive');
    const logged: string[] = [];
    const database = await start(undefined, cache, (message) => logged.push(message));
    await database.stop();
    expect(database.startedFrom).toBe('fresh');
    expect(logged).toEqual([expect.stringMatching(/^embedded snapshot unusable \(.*\): starting fresh$/)]);
    // and the fresh cluster's snapshot took its place
    const again = await start(undefined, cache);
    await again.stop();
    expect(again.startedFrom).toBe('snapshot');
  });
});

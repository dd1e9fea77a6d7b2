import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { DatabaseConfigError, startEmbeddedDatabase } from '../../src';
import { DatabaseServer } from '../../src/database-server';
import { AppModule } from '../../example/app.module';
import { bootApp } from '../utils/apps';
import { asSystem } from '../utils/tenant-sql';

describe(startEmbeddedDatabase.name, () => {
  const scratch = mkdtempSync(join(tmpdir(), 'fdl-early-'));
  const env = (more: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ FDL_CACHE_DIR: join(scratch, 'cache'), ...more });
  const example = (options: Parameters<typeof AppModule.register>[0]) =>
    bootApp(AppModule.register({ useDatabase: false, readEnvironment: false, ...options }));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('starts nothing when the environment selects a server, or is invalid (the module reports that)', () => {
    expect(startEmbeddedDatabase(env({ FDL_USE_DATABASE: 'true', DATABASE_URL: 'postgres://u@h/db' }))).toBeUndefined();
    expect(startEmbeddedDatabase(env({ FDL_USE_DATABASE: 'banana' }))).toBeUndefined();
    expect(startEmbeddedDatabase(env({ FDL_DB_POOL_SIZE: '0' }))).toBeUndefined();
  });

  it('started before the application, is the database the module then uses', async () => {
    const embeddedDatabase = startEmbeddedDatabase(env())!;
    const app = await example({ embeddedDatabase });
    try {
      const moduleUrl = await app.get(DatabaseServer).url();
      const { url } = await embeddedDatabase.ready({ prepare: () => Promise.reject(new Error('migrated twice')) });
      expect(moduleUrl).toBe(url);
      expect(await asSystem(url, async (c) => (await c.query(`SELECT to_regclass('flows') IS NOT NULL AS migrated`)).rows[0].migrated)).toBe(true);
    } finally {
      await app.close();
    }
    // Closing the application stopped it.
    await expect(new Client(await app.get(DatabaseServer).url()).connect()).rejects.toThrow(/ENOENT|ECONNREFUSED/);
  });

  it('refuses one that keeps its data elsewhere than the module is configured to, and releases it', async () => {
    const dataDir = join(scratch, 'data');
    const embeddedDatabase = startEmbeddedDatabase(env({ FDL_DATA_DIR: dataDir }))!;
    await expect(example({ embeddedDatabase })).rejects.toThrow(
      new DatabaseConfigError(`embeddedDatabase keeps its data in ${dataDir}, but the module is configured to keep it in memory`),
    );
    expect(existsSync(join(dataDir, 'fdl-runtime-db.lock'))).toBe(false);
  });

  it('refuses one when the module is configured for a server', async () => {
    const embeddedDatabase = startEmbeddedDatabase(env())!;
    await expect(example({ embeddedDatabase, useDatabase: true, url: 'postgres://nobody@127.0.0.1:1/none' })).rejects.toThrow(
      /embeddedDatabase was given, but the module is configured for the server at DATABASE_URL/,
    );
  });

  it("runs the database in its own thread: a long query does not stop the application's event loop", async () => {
    // Its own cache: an unmigrated snapshot must not be what the other tests load.
    const embeddedDatabase = startEmbeddedDatabase(env({ FDL_CACHE_DIR: join(scratch, 'unmigrated') }))!;
    try {
      const { url } = await embeddedDatabase.ready({ prepare: async () => undefined });
      const client = new Client(url);
      await client.connect();
      try {
        let ticks = 0;
        const timer = setInterval(() => ticks++, 10);
        const started = performance.now();
        await client.query('SELECT count(*) FROM generate_series(1, 3000000)');
        const elapsed = performance.now() - started;
        clearInterval(timer);
        // On the application's thread, WebAssembly running the query would hold every tick back.
        expect(elapsed).toBeGreaterThan(200);
        expect(ticks).toBeGreaterThan((elapsed / 10) * 0.5);
      } finally {
        await client.end();
      }
    } finally {
      await embeddedDatabase.stop();
    }
  });
});

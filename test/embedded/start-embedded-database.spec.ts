import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { Logger } from '@nestjs/common';
import request from 'supertest';
import { startEmbeddedDatabase } from '../../src';
import { DatabaseServer } from '../../src/module/database-server';
import { AppModule } from '../../example/app.module';
import { bootApp } from '../utils/apps';
import { createTestDatabase } from '../utils/test-database';
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

  // startEmbeddedDatabase() runs before @nestjs/config loads .env: what .env then selects wins.
  it('stops an early start kept elsewhere than the module is configured to (its lock released), and starts the one configured', async () => {
    const dataDir = join(scratch, 'data');
    const embeddedDatabase = startEmbeddedDatabase(env({ FDL_DATA_DIR: dataDir }))!;
    const log = jest.spyOn(Logger.prototype, 'log');
    const app = await example({ embeddedDatabase });
    try {
      expect(existsSync(join(dataDir, 'fdl-runtime-db.lock'))).toBe(false);
      expect(log).toHaveBeenCalledWith(expect.stringContaining(`it kept its data in ${dataDir}, the module is configured to keep it in memory`));
      const tenant = await request(app.getHttpServer()).post('/tenants').send({ name: 'in memory' }).expect(201);
      await request(app.getHttpServer()).get('/flows').set('X-Tenant-ID', tenant.body.id).expect(200, []);
    } finally {
      log.mockRestore();
      await app.close();
    }
  });

  it('stops an early start when the module is configured for a server (its lock released), and uses the server', async () => {
    const db = await createTestDatabase();
    const dataDir = join(scratch, 'early');
    const embeddedDatabase = startEmbeddedDatabase(env({ FDL_DATA_DIR: dataDir }))!;
    expect(existsSync(join(dataDir, 'fdl-runtime-db.lock'))).toBe(true);
    try {
      const app = await example({ embeddedDatabase, useDatabase: true, url: db.url });
      try {
        expect(await app.get(DatabaseServer).url()).toBe(db.url);
        expect(existsSync(join(dataDir, 'fdl-runtime-db.lock'))).toBe(false);
        await request(app.getHttpServer()).get('/health').expect(200);
      } finally {
        await app.close();
      }
    } finally {
      await db.drop();
    }
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

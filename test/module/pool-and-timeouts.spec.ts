import { type INestApplication, Logger } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { DatabaseConfigError } from '../../src';
import { bootApp } from '../utils/apps';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';
import { createTenants } from '../utils/tenants';
import { ProbeController, ProbeModule } from './probe.module';

describe('Pool and timeouts', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let tenant: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    [tenant] = await createTenants(db.url, ['t']);
    app = await bootApp(ProbeModule.register({ url: db.url, poolSize: 1, acquireTimeout: 0.5, queryTimeout: 1 }));
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('answers 503 with a clear message when no connection frees up within the acquire timeout, then recovers', async () => {
    const holder = request(app.getHttpServer()).get('/probe/sleep?s=0.9').set('X-Tenant-ID', tenant).then((r) => r);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    const waiting = await request(app.getHttpServer()).get('/probe/facts').set('X-Tenant-ID', tenant);
    expect(waiting.status).toBe(503);
    expect(waiting.body.message).toBe('database unavailable: no pooled connection became free in time');
    expect(Number(waiting.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Date.now() - started).toBeLessThan(900);
    expect((await holder).status).toBe(200);
    await request(app.getHttpServer()).get('/probe/facts').set('X-Tenant-ID', tenant).expect(200);
  });

  it('cancels a statement past the query timeout (57014), rolls back, and leaves the connection reusable', async () => {
    const res = await request(app.getHttpServer()).get('/probe/sleep?s=3').set('X-Tenant-ID', tenant);
    expect(res.status).toBe(503);
    expect(res.body.message).toBe('database query timed out and was cancelled');
    const next = await ProbeController.poolFacts(app.get<DataSource>(getDataSourceToken()));
    expect(next.inTransaction).toBe(false);
    await request(app.getHttpServer()).get('/probe/facts').set('X-Tenant-ID', tenant).expect(200);
  });

  it('logs a query slower than the threshold as a warning, without its parameters', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const slow = await bootApp(ProbeModule.register({ url: db.url, slowQueryThreshold: 0.2 }));
      await request(slow.getHttpServer()).get('/probe/sleep?s=0.4').set('X-Tenant-ID', tenant).expect(200);
      await slow.close();
      expect(warn).toHaveBeenCalledWith(expect.stringMatching(/^slow query \(\d+ ms\): SELECT pg_sleep\(\$1\)$/));
    } finally {
      warn.mockRestore();
    }
  });

  it('refuses to start with an invalid option, naming it', async () => {
    await expect(bootApp(ProbeModule.register({ url: db.url, poolSize: 0 }))).rejects.toThrow(DatabaseConfigError);
    await expect(bootApp(ProbeModule.register({ url: 'mysql://x@y/z' }))).rejects.toThrow(/DATABASE_URL must start with postgres:\/\//);
  });
});

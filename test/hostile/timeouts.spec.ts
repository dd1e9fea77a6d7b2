import type { INestApplication } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { Pool } from 'pg';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { bootApp } from '../utils/apps';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';
import { createTenants } from '../utils/tenants';
import { ProbeController, ProbeModule } from '../module/probe.module';

describe('Timeouts', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let tenant: string;
  let dataSource: DataSource;
  const pool = () => (dataSource.driver as unknown as { master: Pool }).master;

  beforeAll(async () => {
    db = await createTestDatabase();
    [tenant] = await createTenants(db.url, ['t']);
    app = await bootApp(ProbeModule.register({ url: db.url, poolSize: 2, queryTimeout: 0.5, idleInTransactionTimeout: 0.5 }));
    dataSource = app.get<DataSource>(getDataSourceToken());
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('a statement past the timeout is cancelled with 57014 and its transaction rolled back; the connection is reused clean', async () => {
    const pidsBefore = await request(app.getHttpServer()).get('/probe/facts').set('X-Tenant-ID', tenant).expect(200);
    await request(app.getHttpServer()).get('/probe/sleep?s=2').set('X-Tenant-ID', tenant).expect(503);
    const after = await ProbeController.poolFacts(dataSource);
    expect(after).toMatchObject({ inTransaction: false, role: expect.not.stringMatching('fdl_app') });
    const facts = await request(app.getHttpServer()).get('/probe/facts').set('X-Tenant-ID', tenant).expect(200);
    expect(facts.body.flows.tenant).toBe(tenant);
    expect(pidsBefore.status).toBe(200);
  });

  it('a transaction left idle is ended by the server (idle_in_transaction_session_timeout): 503, and the dead connection is not reused', async () => {
    const res = await request(app.getHttpServer()).get('/probe/idle?ms=1500').set('X-Tenant-ID', tenant);
    expect(res.status).toBe(503);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await request(app.getHttpServer()).get('/probe/facts').set('X-Tenant-ID', tenant).expect(200);
    expect(pool().waitingCount).toBe(0);
    expect(pool().idleCount).toBe(pool().totalCount);
  });
});

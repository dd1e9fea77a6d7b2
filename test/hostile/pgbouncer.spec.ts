import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { bootApp, bootExampleApp } from '../utils/apps';
import { PGBOUNCER, type PgBouncer, startPgBouncer } from '../utils/pgbouncer';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';
import { asTenant } from '../utils/tenant-sql';
import { createTenants } from '../utils/tenants';
import { ProbeModule } from '../module/probe.module';

const describeWithBouncer = PGBOUNCER || process.env.CI ? describe : describe.skip;
if (!PGBOUNCER && !process.env.CI) console.warn('PgBouncer tests skipped: pgbouncer is not installed (apt-get install pgbouncer)');

describeWithBouncer('Through PgBouncer in transaction pooling mode', () => {
  let db: TestDatabase;
  let bouncer: PgBouncer;
  let example: INestApplication;
  let probe: INestApplication;
  let tenants: string[];

  beforeAll(async () => {
    db = await createTestDatabase();
    tenants = await createTenants(db.url, Array.from({ length: 12 }, (_, i) => `t${i}`));
    for (const tenantId of tenants) {
      await asTenant(db.url, tenantId, (c) => c.query(`INSERT INTO flows (tenant_id, name) VALUES ($1, $2)`, [tenantId, `flow-of-${tenantId}`]), true);
    }
    bouncer = await startPgBouncer(process.env.FDL_TEST_SERVER_URL!, 3);
    const url = bouncer.urlOf(db.name);
    example = await bootExampleApp(url, { poolSize: 10, acquireTimeout: 30 });
    probe = await bootApp(ProbeModule.register({ url, poolSize: 4, queryTimeout: 1 }));
  });
  afterAll(async () => {
    await example?.close();
    await probe?.close();
    await bouncer?.stop();
    await db?.drop();
  });

  // With prepared statements on (the default): a server connection may lack one its client had
  // prepared elsewhere (then that round trip is sent again with its statements parsed there), or
  // have it from another client: named by their text, it is the same statement. Either way, every
  // answer below must be right. (Parsing again, made certain: test/module/prepared-statements.spec.ts.)
  it('600 concurrent requests over 12 tenants share 3 server connections, and no response holds another tenant\'s row', async () => {
    const server = example.getHttpServer();
    const responses = await Promise.all(
      Array.from({ length: 600 }, (_, i) => {
        const tenantId = tenants[i % tenants.length];
        return request(server).get('/flows').set('X-Tenant-ID', tenantId).then((res) => ({ tenantId, res }));
      }),
    );
    for (const { tenantId, res } of responses) {
      expect(res.status).toBe(200);
      expect(res.body).toEqual([expect.objectContaining({ tenantId, name: `flow-of-${tenantId}` })]);
    }
  });

  it('each request sees its own tenant, role and timeout, set per transaction', async () => {
    const responses = await Promise.all(
      tenants.map((tenantId) => request(probe.getHttpServer()).get('/probe/facts').set('X-Tenant-ID', tenantId).then((res) => ({ tenantId, res }))),
    );
    for (const { tenantId, res } of responses) {
      expect(res.body.flows).toMatchObject({ tenant: tenantId, role: 'fdl_app', statementTimeout: '1s' });
    }
  });

  it('statement_timeout still cancels a long query (SET LOCAL, not a startup parameter)', async () => {
    const res = await request(probe.getHttpServer()).get('/probe/sleep?s=3').set('X-Tenant-ID', tenants[0]);
    expect(res.status).toBe(503);
    expect(res.body.message).toBe('database query timed out and was cancelled');
  });
});

import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { TenancyService } from '../../src';
import { TenantContext } from '../../src/tenant-context/tenant-context';
import { ProbeController, ProbeModule } from '../module/probe.module';
import { bootApp } from '../utils/apps';
import { asSuperuser } from '../utils/tenant-sql';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';
import { createTenants } from '../utils/tenants';

/**
 * Fair sharing of the pool through the module, on a real server: a tenant that queues many long
 * transactions does not keep the others waiting behind all of them. Orders of completion are
 * checked, not times.
 */
describe('Tenant fairness through the module', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let busy: string;
  let quiet: string;
  const finished: string[] = [];
  const http = () => request(app.getHttpServer());
  const sleep = (tenant: string, label: string, seconds = 0.4) =>
    http()
      .get(`/probe/sleep?s=${seconds}`)
      .set('X-Tenant-ID', tenant)
      .then((res) => (finished.push(label), res));
  const settle = () => new Promise((resolve) => setTimeout(resolve, 100));

  beforeAll(async () => {
    db = await createTestDatabase();
    [busy, quiet] = await createTenants(db.url, ['busy', 'quiet']);
    app = await bootApp(ProbeModule.register({ url: db.url, poolSize: 2, tenantQueue: 4, acquireTimeout: 10 }));
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });
  beforeEach(() => (finished.length = 0));

  it("a quiet tenant's request is served at the next free connection, before the busy tenant's queued ones", async () => {
    const holders = [sleep(busy, 'busy-1'), sleep(busy, 'busy-2')];
    await settle();
    const queued = [sleep(busy, 'busy-3'), sleep(busy, 'busy-4'), sleep(busy, 'busy-5')];
    await settle();
    const quietOne = http()
      .get('/probe/facts')
      .set('X-Tenant-ID', quiet)
      .then((res) => (finished.push('quiet'), res));
    const results = await Promise.all([...holders, ...queued, quietOne]);
    expect(results.map((res) => res.status)).toEqual([200, 200, 200, 200, 200, 200]);
    // Both holders end first (same sleep); the quiet request took the first connection they freed.
    expect(finished.indexOf('quiet')).toBeLessThan(finished.indexOf('busy-3'));
    expect(finished.slice(0, 3).sort()).toEqual(['busy-1', 'busy-2', 'quiet']);
  });

  it('the system path is served under a busy tenant at the next free connection', async () => {
    const busyOnes = Array.from({ length: 6 }, (_, i) => sleep(busy, `busy-${i + 1}`));
    await settle();
    const system = app
      .get(TenancyService)
      .runAsSystem(() => app.get(TenantContext).require('test').manager.query('SELECT count(*) FROM tenants'))
      .then((rows) => (finished.push('system'), rows));
    await Promise.all([...busyOnes, system]);
    expect(finished.indexOf('system')).toBeLessThan(finished.indexOf('busy-3'));
  });

  it("past its queue a tenant is refused at once with 429 and Retry-After at its first query; nothing was written; the other tenant is served", async () => {
    const busyOnes = [sleep(busy, 'busy-1'), sleep(busy, 'busy-2')];
    await settle();
    const queued = Array.from({ length: 4 }, (_, i) => sleep(busy, `busy-q${i}`));
    await settle();
    ProbeController.lastQueryError = undefined;
    const refused = await http().post('/probe/write?name=refused-write').set('X-Tenant-ID', busy);
    expect(refused.status).toBe(429);
    expect(refused.body.message).toBe('too many requests for this tenant: this tenant already has 4 transactions waiting for a database connection (the most it may have)');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const served = http().post('/probe/write?name=quiet-write').set('X-Tenant-ID', quiet);
    const results = await Promise.all([...busyOnes, ...queued, served]);
    expect(results.map((res) => res.status)).toEqual([200, 200, 200, 200, 200, 200, 201]);
    expect(ProbeController.lastQueryError).toBe('TenantThrottledError');
    const names = await asSuperuser(db.url, async (c) => (await c.query(`SELECT name FROM flows WHERE name LIKE '%-write' ORDER BY name`)).rows.map((r) => r.name));
    expect(names).toEqual(['quiet-write']);
  });
});

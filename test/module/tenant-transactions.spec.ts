import type { INestApplication } from '@nestjs/common';
import { getDataSourceToken, getRepositoryToken } from '@nestjs/typeorm';
import request from 'supertest';
import type { DataSource, Repository } from 'typeorm';
import {
  Flow,
  TenancyService,
  TenantContextConflictError,
  TenantContextMissingError,
  TenantNotFoundError,
} from '../../src';
import { bootApp } from '../utils/apps';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';
import { asSuperuser, asSystem } from '../utils/tenant-sql';
import { createTenants } from '../utils/tenants';
import { ProbeController, ProbeModule } from './probe.module';

describe('Tenant transactions (pool of 1)', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let dataSource: DataSource;
  let tenantA: string;
  let tenantB: string;
  let suspended: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    [tenantA, tenantB] = await createTenants(db.url, ['a', 'b']);
    [suspended] = await createTenants(db.url, ['s'], 'suspended');
    await asSuperuser(db.url, (c) => c.query('CREATE SEQUENCE probe_calls; GRANT USAGE ON SEQUENCE probe_calls TO fdl_app'));
    app = await bootApp(ProbeModule.register({ url: db.url, poolSize: 1, queryTimeout: 7, acquireTimeout: 2 }));
    dataSource = app.get<DataSource>(getDataSourceToken());
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  const flowNames = (tenantId: string) =>
    asSystem(db.url, async (c) => (await c.query(`SELECT name FROM flows WHERE tenant_id = $1 ORDER BY name`, [tenantId])).rows.map((r) => r.name));

  it('runs every injected repository of a request on one connection, as fdl_app, with the tenant and timeout set', async () => {
    const res = await request(app.getHttpServer()).get('/probe/facts').set('X-Tenant-ID', tenantA).expect(200);
    expect(res.body.flows).toEqual({ pid: expect.any(Number), role: 'fdl_app', tenant: tenantA, statementTimeout: '7s' });
    expect(res.body.audit).toEqual(res.body.flows);
  });

  it('hands the next borrower a connection with no transaction and no tenant, after A, B and a failing request', async () => {
    const a = await request(app.getHttpServer()).get('/probe/facts').set('X-Tenant-ID', tenantA).expect(200);
    const b = await request(app.getHttpServer()).get('/probe/facts').set('X-Tenant-ID', tenantB).expect(200);
    expect(b.body.flows.pid).toBe(a.body.flows.pid); // the pool has one connection: it was reused
    expect(b.body.flows.tenant).toBe(tenantB);
    await request(app.getHttpServer()).post('/probe/write?name=doomed&fail=1').set('X-Tenant-ID', tenantA).expect(400);

    const next = await ProbeController.poolFacts(dataSource);
    expect(next.pid).toBe(a.body.flows.pid);
    expect(next.inTransaction).toBe(false);
    expect(next.tenant === '' || next.tenant === null).toBe(true);
    expect(next.role).not.toBe('fdl_app');
    expect(next.statementTimeout).toBe('0');
  });

  it('writes nothing when the handler fails after writing', async () => {
    await request(app.getHttpServer()).post('/probe/write?name=rolled-back&fail=1').set('X-Tenant-ID', tenantA).expect(400);
    await expect(flowNames(tenantA)).resolves.not.toContain('rolled-back');
  });

  it('commits what a successful handler wrote', async () => {
    await request(app.getHttpServer()).post('/probe/write?name=kept').set('X-Tenant-ID', tenantA).expect(201);
    await expect(flowNames(tenantA)).resolves.toContain('kept');
  });

  it('fails the request and writes nothing when the handler swallowed a failed statement', async () => {
    const res = await request(app.getHttpServer()).post('/probe/write?name=swallowed&swallow=1').set('X-Tenant-ID', tenantA);
    expect(res.status).toBe(500);
    await expect(flowNames(tenantA)).resolves.not.toContain('swallowed');
  });

  it('keeps the transaction open until an observable handler completes', async () => {
    const res = await request(app.getHttpServer()).get('/probe/observable').set('X-Tenant-ID', tenantA).expect(200);
    expect(res.body.count).toEqual(expect.any(Number));
    expect(res.body.facts).toMatchObject({ role: 'fdl_app', tenant: tenantA });
  });

  it('holds no connection before the first query, so a pool of one serves another request meanwhile', async () => {
    const slow = request(app.getHttpServer()).get('/probe/slow-start?ms=700').set('X-Tenant-ID', tenantA);
    const slowDone = slow.then((res) => res);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    await request(app.getHttpServer()).get('/probe/facts').set('X-Tenant-ID', tenantB).expect(200);
    expect(Date.now() - started).toBeLessThan(600); // not queued behind the slow request
    expect((await slowDone).status).toBe(200);
  });

  describe('refuses a bad tenant before any query runs as a tenant', () => {
    beforeEach(() => {
      ProbeController.handled = 0;
      ProbeController.lastQueryError = undefined;
    });

    it.each([
      ['missing', undefined, /x-tenant-id header is required/],
      ['empty', '', /x-tenant-id header is required/],
      ['malformed', 'not-a-uuid', /x-tenant-id header must be a tenant id in UUID form/],
      ['injection', "' OR 1=1 --", /x-tenant-id header must be a tenant id/],
      ['two values', '6f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f, 7f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f', /UUID form/],
    ])('%s header → 400 naming the header; the handler never runs', async (_case, header, message) => {
      const req = request(app.getHttpServer()).post('/probe/write?name=never');
      const res = await (header === undefined ? req : req.set('X-Tenant-ID', header));
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(message);
      expect(ProbeController.handled).toBe(0);
    });

    it.each([
      ['unknown', () => '00000000-0000-4000-8000-000000000000'],
      ['suspended', () => suspended],
    ])('%s tenant → 403; the handler\'s first query is refused before it runs', async (_case, tenant) => {
      const res = await request(app.getHttpServer()).post('/probe/write?name=never').set('X-Tenant-ID', tenant());
      expect(res.status).toBe(403);
      expect(res.body.message).toBe('the tenant does not exist or is not active');
      expect(ProbeController.lastQueryError).toBe(TenantNotFoundError.name);
      await expect(flowNames(tenant())).resolves.toEqual([]);
    });
  });

  it('never executes the first statement of an unknown or suspended tenant (it shares the tenant check\'s round trip)', async () => {
    const calls = () => asSuperuser(db.url, async (c) => (await c.query('SELECT last_value, is_called FROM probe_calls')).rows[0]);
    await request(app.getHttpServer()).get('/probe/nextval').set('X-Tenant-ID', tenantA).expect(200);
    const before = await calls();
    await request(app.getHttpServer()).get('/probe/nextval').set('X-Tenant-ID', '00000000-0000-4000-8000-000000000000').expect(403);
    await request(app.getHttpServer()).get('/probe/nextval').set('X-Tenant-ID', suspended).expect(403);
    expect(await calls()).toEqual(before);
    await request(app.getHttpServer()).get('/probe/nextval').set('X-Tenant-ID', tenantA).expect(200);
    expect(Number((await calls()).last_value)).toBe(Number(before.last_value) + 1);
  });

  describe('outside HTTP', () => {
    let tenancy: TenancyService;
    let flows: Repository<Flow>;
    beforeAll(() => {
      tenancy = app.get(TenancyService);
      flows = app.get<Repository<Flow>>(getRepositoryToken(Flow));
    });

    it('runInTenant scopes a plain async function to the tenant and commits its writes', async () => {
      await tenancy.runInTenant(tenantB, () => flows.save(flows.create({ tenantId: tenantB, name: 'from-a-job' })));
      const seenByB = await tenancy.runInTenant(tenantB, () => flows.find());
      const seenByA = await tenancy.runInTenant(tenantA, () => flows.find());
      expect(seenByB.map((f) => f.name)).toContain('from-a-job');
      expect(seenByA.map((f) => f.name)).not.toContain('from-a-job');
      expect(seenByA.every((f) => f.tenantId === tenantA)).toBe(true);
    });

    it('rolls back runInTenant when the function throws', async () => {
      await expect(
        tenancy.runInTenant(tenantB, async () => {
          await flows.save(flows.create({ tenantId: tenantB, name: 'job-rolled-back' }));
          throw new Error('job failed');
        }),
      ).rejects.toThrow('job failed');
      await expect(flowNames(tenantB)).resolves.not.toContain('job-rolled-back');
    });

    it('nested runInTenant for the same tenant joins the open transaction', async () => {
      const pids = await tenancy.runInTenant(tenantA, async () => {
        const [outer] = await flows.query('SELECT pg_backend_pid() AS pid, txid_current() AS tx');
        const [inner] = await tenancy.runInTenant(tenantA, () => flows.query('SELECT pg_backend_pid() AS pid, txid_current() AS tx'));
        return { outer, inner };
      });
      expect(pids.inner).toEqual(pids.outer);
    });

    it('refuses to switch tenant inside an open tenant transaction', async () => {
      await expect(
        tenancy.runInTenant(tenantA, () => tenancy.runInTenant(tenantB, () => flows.find())),
      ).rejects.toBeInstanceOf(TenantContextConflictError);
    });

    it('refuses a malformed tenant id before taking a connection', async () => {
      await expect(tenancy.runInTenant('42', () => flows.find())).rejects.toThrow(/tenantId must be a tenant id in UUID form/);
    });

    it('fails closed when a tenant repository is used outside any context', async () => {
      await expect(flows.find()).rejects.toBeInstanceOf(TenantContextMissingError);
      await expect(flows.find()).rejects.toThrow(/outside a tenant context/);
    });

    it('runAsSystem sees every tenant (the explicit system path)', async () => {
      const all = await tenancy.runAsSystem(() => flows.find());
      expect(new Set(all.map((f) => f.tenantId))).toEqual(new Set([tenantA, tenantB]));
    });
  });
});

import type { AddressInfo } from 'node:net';
import { getDataSourceToken } from '@nestjs/typeorm';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { exampleApiSuite } from '../example/example-api.suite';
import { CITUS_BACKEND, type ExampleBackend, type RunningExample } from '../utils/backends';
import { asSystemOnCitus, asTenantOnCitus, describeOnCitus, taskCounts } from '../utils/citus';
import { foreignRows, inParallel, mixedTenantRequests } from '../utils/tenant-load';
import { type TenantSeed, seedTenant } from '../utils/tenant-sql';
import { createTenants } from '../utils/tenants';

const TENANT_TABLES = /\b(flows|flow_versions|execution_snapshots|execution_history|audit_logs)\b/;

/**
 * The example app through the coordinator of a real cluster, started as an operator would
 * (DATABASE_URL=<coordinator> FDL_USE_DATABASE=true, migrating at start): the example e2e cases of
 * the single node, the 2,000-request leak test, and one shard per tenant statement of its endpoints.
 * One app and database for the file: a Citus database and its migrations cost seconds.
 */
describeOnCitus('Example API on a Citus coordinator', () => {
  let running: RunningExample;
  // The e2e cases close their backend after their last case; the file's other cases still use it.
  const sharedBackend: ExampleBackend = { name: CITUS_BACKEND.name, start: async () => ({ ...running, close: async () => undefined }) };

  beforeAll(async () => {
    running = await CITUS_BACKEND.start();
  }, 180_000);
  afterAll(() => running?.close());

  describe('the example e2e cases', () => exampleApiSuite(sharedBackend));

  describe('tenant isolation under concurrency', () => {
    const TENANTS = 20;
    const REQUESTS = 2_000;
    const CONCURRENCY = 50;
    let baseUrl: string;
    let tenants: string[];

    beforeAll(async () => {
      tenants = await createTenants(running.url, Array.from({ length: TENANTS }, (_, i) => `load-${i}`));
      for (const tenantId of tenants) {
        await asTenantOnCitus(
          running.url,
          tenantId,
          (c) => c.query(`INSERT INTO flows (tenant_id, name) VALUES ($1, $2 || '-1'), ($1, $2 || '-2'), ($1, $2 || '-3')`, [tenantId, tenantId]),
          true,
        );
      }
      await running.app.listen(0, '127.0.0.1');
      baseUrl = `http://127.0.0.1:${(running.app.getHttpServer().address() as AddressInfo).port}`;
    });

    it(`${REQUESTS} requests over ${TENANTS} tenants, ${CONCURRENCY} at once, through the coordinator: no row of another tenant, every write committed`, async () => {
      const responses = await inParallel(mixedTenantRequests(baseUrl, tenants, REQUESTS), CONCURRENCY);

      expect(responses.filter((r) => r.status >= 300)).toEqual([]);
      expect(foreignRows(responses)).toEqual([]);
      const counts = await Promise.all(
        tenants.map((t) => asTenantOnCitus(running.url, t, async (c) => Number((await c.query('SELECT count(*) FROM flows')).rows[0].count))),
      );
      expect(counts).toEqual(tenants.map(() => 3 + REQUESTS / 10 / TENANTS));
    }, 120_000);
  });

  describe('each tenant statement of an endpoint goes to one shard (EXPLAIN: Task Count: 1)', () => {
    let seed: TenantSeed;
    const sent: { sql: string; parameters: unknown[] }[] = [];

    beforeAll(async () => {
      seed = await asSystemOnCitus(running.url, (c) => seedTenant(c, 'explained'));
      await asSystemOnCitus(running.url, (c) => seedTenant(c, 'neighbour'));
      // TypeORM hands every statement to the logger before sending it, the prelude's first included.
      const logger = running.app.get<DataSource>(getDataSourceToken()).logger;
      const logQuery = logger.logQuery.bind(logger);
      logger.logQuery = (sql, parameters, runner) => {
        if (TENANT_TABLES.test(sql) && /^\s*(SELECT|WITH|UPDATE|DELETE|INSERT)\b/i.test(sql)) sent.push({ sql, parameters: (parameters as unknown[] | undefined) ?? [] });
        return logQuery(sql, parameters, runner);
      };
    });

    /** The Task Count figures of each tenant statement `send` made the app run, EXPLAINed as the tenant. */
    async function plansOf(send: () => Promise<unknown>): Promise<{ sql: string; tasks: number[] }[]> {
      sent.length = 0;
      await send();
      const statements = sent.splice(0);
      return asTenantOnCitus(running.url, seed.tenant, async (c) => {
        const plans: { sql: string; tasks: number[] }[] = [];
        for (const { sql, parameters } of statements) plans.push({ sql, tasks: taskCounts((await c.query(`EXPLAIN ${sql}`, parameters)).rows) });
        return plans;
      });
    }

    const as = (method: 'get' | 'post' | 'patch', path: (s: TenantSeed) => string, body?: (s: TenantSeed) => object) => () => {
      const req = request(running.app.getHttpServer())[method](path(seed)).set('X-Tenant-ID', seed.tenant);
      return (body ? req.send(body(seed)) : req).expect((res) => expect(res.status).toBeLessThan(300));
    };

    it.each([
      ['GET /flows', as('get', () => '/flows')],
      ['GET /flows/:id', as('get', (s) => `/flows/${s.flow}`)],
      ['GET /flows/:id/versions', as('get', (s) => `/flows/${s.flow}/versions`)],
      ['GET /executions', as('get', () => '/executions?status=running&limit=2')],
      ['GET /executions/:id', as('get', (s) => `/executions/${s.execution}`)],
      ['GET /audit-logs', as('get', () => '/audit-logs')],
      ['GET /audit-logs/verify', as('get', () => '/audit-logs/verify')],
      ['POST /flows (and its audit entry)', as('post', () => '/flows', () => ({ name: `explained-${Date.now()}` }))],
      ['POST /flows/:id/publish', as('post', (s) => `/flows/${s.flow}/publish`, () => ({ definition: { steps: ['explained'] } }))],
      ['POST /executions', as('post', () => '/executions', (s) => ({ flowVersionId: s.version }))],
      ['PATCH /executions/:id', as('patch', (s) => `/executions/${s.execution}`, () => ({ state: { step: 1 }, expectedVersion: 1 }))],
    ])('%s', async (_name, send) => {
      const plans = await plansOf(send);
      expect(plans.length).toBeGreaterThan(0);
      // One figure per distributed step: each must be one shard, and a statement with none is not distributed at all.
      expect(plans).toEqual(plans.map(({ sql, tasks }) => ({ sql, tasks: tasks.length ? tasks.map(() => 1) : [1] })));
    });

    it('the check sees a fan-out: the same tenant reading without the routing predicate goes to every shard', async () => {
      const tasks = await asTenantOnCitus(running.url, seed.tenant, async (c) => taskCounts((await c.query('EXPLAIN SELECT id FROM flows')).rows));
      expect(tasks).toEqual([4]);
    });
  });
});

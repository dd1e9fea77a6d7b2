import type { INestApplication } from '@nestjs/common';
import { getRepositoryToken } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { DatabaseModule, type DatabaseModuleOptions, Flow, InvalidTenantIdError, TenancyService, TenantNotFoundError } from '../../src';
import { ClusterTopology } from '../../src/cluster/cluster-topology';
import { bootApp } from '../utils/apps';
import { asSystemOnCitus, type CitusDatabase, createServingCitusDatabase, describeOnCitus, taskCounts } from '../utils/citus';
import { tenantOperations, tenantStatementsOf } from '../utils/routed-statements';
import { seedTenant } from '../utils/tenant-sql';

/** The module itself through the coordinator of a real cluster: the tenant reaches the workers, each query one shard. */
describeOnCitus('DatabaseModule on a Citus coordinator', () => {
  let db: CitusDatabase;
  let app: INestApplication;
  let tenancy: TenancyService;
  let flows: Repository<Flow>;
  const seeds: { tenant: string; flow: string; execution: string }[] = [];
  const boot = (options: DatabaseModuleOptions = {}) =>
    bootApp(DatabaseModule.forRoot({ useDatabase: true, url: db.url, readEnvironment: false, poolSize: 4, ...options }));

  beforeAll(async () => {
    db = await createServingCitusDatabase();
    for (const name of ['a', 'b']) seeds.push(await asSystemOnCitus(db.url, (c) => seedTenant(c, name)));
    app = await boot();
    tenancy = app.get(TenancyService);
    flows = app.get(getRepositoryToken(Flow));
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('detects the citus extension at start', () => {
    expect(app.get(ClusterTopology).preludeForm).toBe('citus');
  });

  it("a tenant reads its own rows from the workers, and only them", async () => {
    const [a, b] = seeds;
    await expect(tenancy.runInTenant(a.tenant, () => flows.find())).resolves.toEqual([expect.objectContaining({ id: a.flow, tenantId: a.tenant })]);
    await expect(tenancy.runInTenant(b.tenant, () => flows.find())).resolves.toEqual([expect.objectContaining({ id: b.flow, tenantId: b.tenant })]);
    // Without the routing predicate: the fan-out to every shard, where RLS filters with the propagated tenant.
    await expect(tenancy.runInTenant(a.tenant, () => flows.query('SELECT tenant_id FROM flows'))).resolves.toEqual([{ tenant_id: a.tenant }]);
  });

  it('the tenant id the prelude writes into SET is the canonical UUID: upper case is read as the same tenant', async () => {
    const [a] = seeds;
    await expect(tenancy.runInTenant(a.tenant.toUpperCase(), () => flows.count())).resolves.toBe(1);
  });

  it('a hostile tenant id never reaches the SET statement', async () => {
    const hostile = `${seeds[0].tenant}'; RESET ROLE; SELECT '`;
    await expect(tenancy.runInTenant(hostile, () => flows.find())).rejects.toBeInstanceOf(InvalidTenantIdError);
  });

  it('an unknown tenant is refused by the prelude', async () => {
    await expect(tenancy.runInTenant('00000000-0000-4000-8000-000000000000', () => flows.find())).rejects.toBeInstanceOf(TenantNotFoundError);
  });

  it("with the single node's prelude forced (citus: false), the workers see no tenant: nothing is read", async () => {
    const singleNode = await boot({ citus: false });
    try {
      expect(singleNode.get(ClusterTopology).preludeForm).toBe('single-node');
      await expect(singleNode.get(TenancyService).runInTenant(seeds[0].tenant, () => flows.query('SELECT id FROM flows'))).resolves.toEqual([]);
    } finally {
      await singleNode.close();
    }
  });

  describe('each statement of a tenant goes to one shard (EXPLAIN: Task Count: 1)', () => {
    const operations = () => tenantOperations(app, { ...seeds[0], otherTenantsFlow: seeds[1].flow });
    it.each(tenantOperationNames())('%s', async (name) => {
      const work = operations().find(([n]) => n === name)![1];
      const plans: { sql: string; tasks: number[] }[] = [];
      await tenantStatementsOf<{ 'QUERY PLAN': string }[]>(app, seeds[0].tenant, work, async ({ sql, parameters }, query) => {
        plans.push({ sql, tasks: taskCounts(await query(`EXPLAIN ${sql}`, parameters)) });
      });
      expect(plans.length).toBeGreaterThan(0);
      // One figure per distributed step (a modifying CTE is a step of its own): each must be one shard.
      expect(plans).toEqual(plans.map(({ sql, tasks }) => ({ sql, tasks: tasks.length ? tasks.map(() => 1) : [1] })));
    });

    // The lifecycle writes: test/citus/citus-lifecycle.spec.ts.
  });
});

/** The operations' names, known before the app boots (it.each needs them at collection). */
function tenantOperationNames(): string[] {
  const app = { get: () => ({}) } as unknown as INestApplication;
  return tenantOperations(app, { flow: '', otherTenantsFlow: '', execution: '' }).map(([name]) => name);
}

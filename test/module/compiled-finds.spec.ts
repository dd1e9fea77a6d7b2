import type { INestApplication } from '@nestjs/common';
import { getDataSourceToken, getRepositoryToken } from '@nestjs/typeorm';
import { type DataSource, type EntitySubscriberInterface, In, IsNull, type Repository } from 'typeorm';
import { DatabaseModule, Flow, FlowVersion, TenancyService, TenantContextMissingError } from '../../src';
import { TenantContext } from '../../src/tenant-context/tenant-context';
import { bootApp } from '../utils/apps';
import { tenantStatementsOf } from '../utils/routed-statements';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';
import { asSystem, asTenant } from '../utils/tenant-sql';
import { createTenants } from '../utils/tenants';

/** What TypeORM's builder sends for a find (aliased columns); the compiled path names columns bare. */
const BUILDER_SQL = /"Flow"\."id"|"FlowVersion"\."id"/;

/**
 * findOneBy / findBy with plain equality run as SQL compiled once per call shape
 * (src/repositories/compiled-finds.ts): same entities as TypeORM's own path, the same isolation, and
 * TypeORM's path for everything the compiled one does not reproduce.
 */
describe('Compiled finds of the tenant-scoped repositories', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let tenancy: TenancyService;
  let context: TenantContext;
  let flows: Repository<Flow>;
  let versions: Repository<FlowVersion>;
  let tenants: string[];
  const ids = { flow: '', otherTenantsFlow: '', version: '' };

  beforeAll(async () => {
    db = await createTestDatabase();
    tenants = await createTenants(db.url, ['a', 'b']);
    const [flowA, flowB] = await Promise.all(
      tenants.map((tenant) =>
        asTenant(db.url, tenant, async (c) => (await c.query(`INSERT INTO flows (tenant_id, name, description) VALUES ($1, 'f', 'd') RETURNING id`, [tenant])).rows[0].id, true),
      ),
    );
    ids.flow = flowA;
    ids.otherTenantsFlow = flowB;
    ids.version = await asSystem(db.url, async (c) =>
      (
        await c.query(
          `INSERT INTO flow_versions (tenant_id, flow_id, version, definition, content_hash) VALUES ($1, $2, 1, '{"steps": [{"a": 1}]}', repeat('a', 64)) RETURNING id`,
          [tenants[0], flowA],
        )
      ).rows[0].id,
    );
    app = await bootApp(DatabaseModule.forRoot({ useDatabase: true, url: db.url, readEnvironment: false, poolSize: 4 }));
    tenancy = app.get(TenancyService);
    context = app.get(TenantContext);
    flows = app.get(getRepositoryToken(Flow));
    versions = app.get(getRepositoryToken(FlowVersion));
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  /** The same call through TypeORM's builder: the transaction's manager, not the repository. */
  const viaBuilder = <T>(work: (manager: ReturnType<TenantContext['require']>['manager']) => Promise<T>) => work(context.require('test').manager);

  it('sends the compiled SQL, routed to the tenant, for findOneBy and findBy', async () => {
    const sent = await tenantStatementsOf(app, tenants[0], async () => {
      await flows.findOneBy({ id: ids.flow });
      await flows.findBy({ id: ids.flow, name: 'f' });
    });
    expect(sent.map((s) => s.sql)).toEqual([
      `SELECT "tenant_id", "id", "name", "description", "current_version_id", "created_at", "updated_at" FROM "flows" WHERE "id" = $1 AND "tenant_id" = $2 LIMIT 1`,
      `SELECT "tenant_id", "id", "name", "description", "current_version_id", "created_at", "updated_at" FROM "flows" WHERE "id" = $1 AND "name" = $2 AND "tenant_id" = $3`,
    ]);
    expect(sent.map((s) => s.parameters)).toEqual([
      [ids.flow, tenants[0]],
      [ids.flow, 'f', tenants[0]],
    ]);
  });

  it('returns the entities TypeORM returns: class, values, dates, jsonb', async () => {
    await tenancy.runInTenant(tenants[0], async () => {
      const flow = await flows.findOneBy({ id: ids.flow });
      expect(flow).toBeInstanceOf(Flow);
      expect(flow).toEqual(await viaBuilder((m) => m.findOneBy(Flow, { id: ids.flow })));
      expect(flow!.createdAt).toBeInstanceOf(Date);
      const version = await versions.findOneBy({ id: ids.version });
      expect(version).toBeInstanceOf(FlowVersion);
      expect(version).toEqual(await viaBuilder((m) => m.findOneBy(FlowVersion, { id: ids.version })));
      expect(version!.definition).toEqual({ steps: [{ a: 1 }] });
      expect(await versions.findBy({ flowId: ids.flow, version: 1 })).toEqual(await viaBuilder((m) => m.findBy(FlowVersion, { flowId: ids.flow, version: 1 })));
      expect(await flows.findOneBy({ id: '00000000-0000-4000-8000-000000000000' })).toBeNull();
      expect(await flows.findBy({ name: 'no such flow' })).toEqual([]);
    });
  });

  it("finds no other tenant's row, even naming it by id and tenant", async () => {
    await tenancy.runInTenant(tenants[0], async () => {
      expect(await flows.findOneBy({ id: ids.otherTenantsFlow })).toBeNull();
      expect(await flows.findOneBy({ id: ids.otherTenantsFlow, tenantId: tenants[1] })).toBeNull();
      expect(await flows.findBy({ tenantId: tenants[1] })).toEqual([]);
    });
  });

  it('on the system path: no routing predicate, every tenant readable', async () => {
    await tenancy.runAsSystem(async () => {
      expect((await flows.findOneBy({ id: ids.otherTenantsFlow }))?.tenantId).toBe(tenants[1]);
      expect((await flows.findBy({ name: 'f' })).map((f) => f.tenantId).sort()).toEqual([...tenants].sort());
    });
  });

  it('outside a tenant context still throws TenantContextMissingError', async () => {
    await expect(flows.findOneBy({ id: ids.flow })).rejects.toBeInstanceOf(TenantContextMissingError);
    await expect(flows.findBy({ id: ids.flow })).rejects.toBeInstanceOf(TenantContextMissingError);
  });

  it.each<[string, () => Promise<unknown>]>([
    ['a null value', () => flows.findBy({ id: ids.flow, currentVersionId: IsNull() })],
    ['a find operator', () => flows.findBy({ id: In([ids.flow]) })],
    ['an array of conditions', () => flows.findBy([{ id: ids.flow }, { name: 'x' }])],
  ])('leaves %s to TypeORM, with the same result', async (_, find) => {
    const sent = await tenantStatementsOf(app, tenants[0], find);
    expect(sent).toHaveLength(1);
    expect(sent[0].sql).toMatch(BUILDER_SQL);
    const result = await tenancy.runInTenant(tenants[0], find);
    expect(Array.isArray(result) ? result.map((f) => (f as Flow).id) : (result as Flow | null)?.id).toEqual(Array.isArray(result) ? [ids.flow] : ids.flow);
  });

  it('leaves an undefined value to TypeORM, which refuses it', async () => {
    await expect(tenancy.runInTenant(tenants[0], () => flows.findOneBy({ id: ids.flow, description: undefined }))).rejects.toThrow(
      /Undefined value encountered in property 'Flow.description'/,
    );
  });

  it('leaves finds to TypeORM while a subscriber listens to afterLoad, and the subscriber is called', async () => {
    const dataSource = app.get<DataSource>(getDataSourceToken());
    const loaded: unknown[] = [];
    const subscriber: EntitySubscriberInterface = { afterLoad: (entity) => void loaded.push(entity) };
    dataSource.subscribers.push(subscriber);
    try {
      const sent = await tenantStatementsOf(app, tenants[0], () => flows.findOneBy({ id: ids.flow }));
      expect(sent[0].sql).toMatch(BUILDER_SQL);
      expect(loaded).toHaveLength(1);
    } finally {
      dataSource.subscribers.splice(dataSource.subscribers.indexOf(subscriber), 1);
    }
  });
});

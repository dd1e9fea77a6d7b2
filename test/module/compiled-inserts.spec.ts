import type { INestApplication } from '@nestjs/common';
import { getRepositoryToken } from '@nestjs/typeorm';
import { QueryFailedError, type Repository } from 'typeorm';
import { DatabaseModule, ExecutionSnapshot, Flow, TenancyService, Tenant, TenantContextMissingError, TenantMismatchError } from '../../src';
import { TenantContext } from '../../src/tenant-context/tenant-context';
import { bootApp } from '../utils/apps';
import { tenantStatementsOf } from '../utils/routed-statements';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';
import { asSuperuser, asSystem } from '../utils/tenant-sql';
import { createTenants } from '../utils/tenants';

const FLOW_INSERT =
  'INSERT INTO "flows"("tenant_id", "id", "name", "description", "current_version_id", "created_at", "updated_at") ' +
  'VALUES ($1, DEFAULT, $2, $3, DEFAULT, DEFAULT, DEFAULT) RETURNING "id", "created_at", "updated_at"';

/** An entity's shape for comparison: the values TypeORM and the database chose per call replaced by their type. */
function shapeOf(entity: object): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(entity)
      .map(([key, value]) => [key, value instanceof Date ? 'Date' : /^(id|tenantId|flowId|flowVersionId)$/.test(key) ? typeof value : value] as const)
      .sort(([a], [b]) => a.localeCompare(b)),
  );
}

/**
 * save() of one new entity as an INSERT compiled once per shape (src/repositories/compiled-inserts.ts):
 * the statement TypeORM sends, the entity TypeORM returns, the tenant rule of TenantColumnSubscriber,
 * and TypeORM's own save for everything else.
 */
describe('Compiled inserts of the tenant-scoped repositories', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let tenancy: TenancyService;
  let context: TenantContext;
  let flows: Repository<Flow>;
  let snapshots: Repository<ExecutionSnapshot>;
  let tenants: string[];
  const ids = { flow: '', version: '' };
  let named = 0;
  const name = () => `flow-${named++}`;

  beforeAll(async () => {
    db = await createTestDatabase();
    tenants = await createTenants(db.url, ['a', 'b']);
    ({ flow: ids.flow, version: ids.version } = await asSystem(db.url, async (c) => {
      const flow = (await c.query(`INSERT INTO flows (tenant_id, name) VALUES ($1, 'seed') RETURNING id`, [tenants[0]])).rows[0].id;
      const version = (
        await c.query(`INSERT INTO flow_versions (tenant_id, flow_id, version, definition, content_hash) VALUES ($1, $2, 1, '{}', repeat('a', 64)) RETURNING id`, [tenants[0], flow])
      ).rows[0].id;
      return { flow, version };
    }));
    app = await bootApp(DatabaseModule.forRoot({ useDatabase: true, url: db.url, readEnvironment: false, poolSize: 4 }));
    tenancy = app.get(TenancyService);
    context = app.get(TenantContext);
    flows = app.get(getRepositoryToken(Flow));
    snapshots = app.get(getRepositoryToken(ExecutionSnapshot));
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  /** Runs `work` in a tenant transaction; tells whether TypeORM's persistence (manager.save) ran. */
  const typeormSaveUsed = (tenantId: string, work: () => Promise<unknown>) =>
    tenancy.runInTenant(tenantId, async () => {
      const spy = jest.spyOn(context.require('test').manager, 'save');
      try {
        await work().catch(() => undefined);
        return spy.mock.calls.length > 0;
      } finally {
        spy.mockRestore();
      }
    });

  /** The same save through TypeORM's persistence: the transaction's manager, not the repository. */
  const viaTypeorm = <T extends object>(target: new () => T, entity: Partial<T>) => context.require('test').manager.save(target, entity as T);

  it("sends TypeORM's INSERT, fills the tenant, and returns the same object completed as TypeORM's save does", async () => {
    let saved: Flow | undefined;
    let expected: Flow | undefined;
    const given = Object.assign(new Flow(), { name: name(), description: null });
    const sent = await tenantStatementsOf(app, tenants[0], async () => {
      saved = await flows.save(given);
    });
    expect(sent).toEqual([{ sql: FLOW_INSERT, parameters: [tenants[0], given.name, null] }]);
    await expect(typeormSaveUsed(tenants[0], () => flows.save(flows.create({ name: name() })))).resolves.toBe(false);
    expect(saved).toBe(given);
    await tenancy.runInTenant(tenants[0], async () => {
      expected = await viaTypeorm(Flow, flows.create({ name: name(), description: null }));
    });
    expect(saved).toBeInstanceOf(Flow);
    expect(shapeOf(saved!)).toEqual({ ...shapeOf(expected!), name: given.name });
    await expect(tenancy.runInTenant(tenants[0], () => flows.findOneBy({ id: saved!.id }))).resolves.toEqual(saved);
  });

  it('matches TypeORM for jsonb values, database defaults and unset nullable columns (execution_snapshots)', async () => {
    const make = () => Object.assign(new ExecutionSnapshot(), { flowId: ids.flow, flowVersionId: ids.version, status: 'running', state: { step: 1, vars: ['x'] } });
    const [compiled, typeorm] = await tenancy.runInTenant(tenants[0], async () => [
      await snapshots.save(make()),
      await viaTypeorm(ExecutionSnapshot, make()),
    ]);
    expect(shapeOf(compiled)).toEqual(shapeOf(typeorm));
    expect(compiled).toMatchObject({ state: { step: 1, vars: ['x'] }, input: {}, version: 1, output: null, finishedAt: null });
    await expect(tenancy.runInTenant(tenants[0], () => snapshots.findOneBy({ id: compiled.id }))).resolves.toEqual(compiled);
  });

  it('saves a plain object and returns that object, as TypeORM does', async () => {
    const plain = { name: name() } as Flow;
    const saved = await tenancy.runInTenant(tenants[0], () => flows.save(plain));
    expect(saved).toBe(plain);
    expect(saved).not.toBeInstanceOf(Flow);
    expect(saved).toMatchObject({ tenantId: tenants[0], description: null, currentVersionId: null, id: expect.any(String) });
  });

  it("refuses another tenant's id with TenantMismatchError and writes nothing", async () => {
    const flowName = name();
    await expect(tenancy.runInTenant(tenants[0], () => flows.save(flows.create({ tenantId: tenants[1], name: flowName })))).rejects.toBeInstanceOf(
      TenantMismatchError,
    );
    await expect(typeormSaveUsed(tenants[0], () => flows.save(flows.create({ tenantId: tenants[1], name: flowName })))).resolves.toBe(false);
    const { rows } = await asSuperuser(db.url, (c) => c.query('SELECT 1 FROM flows WHERE name = $1', [flowName]));
    expect(rows).toHaveLength(0);
  });

  it("a constraint violation is TypeORM's QueryFailedError naming the constraint, and rolls the transaction back", async () => {
    const flowName = name();
    const error = await tenancy
      .runInTenant(tenants[0], async () => {
        await flows.save(flows.create({ name: flowName }));
        await flows.save(flows.create({ name: flowName }));
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueryFailedError);
    expect((error as QueryFailedError & { driverError: { constraint: string } }).driverError.constraint).toBe('UQ_flows_tenant_name');
    const { rows } = await asSuperuser(db.url, (c) => c.query('SELECT 1 FROM flows WHERE name = $1', [flowName]));
    expect(rows).toHaveLength(0);
  });

  it('on the system path: no tenant filled, the row written for the tenant it names', async () => {
    const tenantsRepo = app.get<Repository<Tenant>>(getRepositoryToken(Tenant));
    const tenant = await tenancy.runAsSystem(() => tenantsRepo.save(tenantsRepo.create({ name: 'c' })));
    expect(tenant).toMatchObject({ id: expect.any(String), name: 'c', status: 'active', createdAt: expect.any(Date) });
    const flow = await tenancy.runAsSystem(() => flows.save(flows.create({ tenantId: tenant.id, name: name() })));
    expect(flow.tenantId).toBe(tenant.id);
  });

  it('outside a tenant context still throws TenantContextMissingError', async () => {
    await expect(flows.save(Object.assign(new Flow(), { tenantId: tenants[0], name: name() }))).rejects.toBeInstanceOf(TenantContextMissingError);
  });

  it.each<[string, () => Promise<unknown>]>([
    ['several entities', () => flows.save([flows.create({ name: name() }), flows.create({ name: name() })])],
    ['save options', () => flows.save(flows.create({ name: name() }), { reload: false })],
    ['an entity with its key (it may exist: TypeORM loads it first)', () => flows.save({ ...flows.create({ name: name() }), id: ids.flow, tenantId: tenants[0] })],
  ])('leaves %s to TypeORM', async (_, save) => {
    await expect(typeormSaveUsed(tenants[0], save)).resolves.toBe(true);
  });
});

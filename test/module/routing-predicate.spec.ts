import { type INestApplication, Logger } from '@nestjs/common';
import { getRepositoryToken } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { DatabaseModule, Flow, InvalidActorError, InvalidTenantIdError, TenancyService } from '../../src';
import { ClusterTopology } from '../../src/cluster/cluster-topology';
import { preludeStatements, tenantSetStatement } from '../../src/transaction/prelude';
import { bootApp } from '../utils/apps';
import { lifecycleWrites, tenantOperations, tenantStatementsOf } from '../utils/routed-statements';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';
import { asSystem, asTenant } from '../utils/tenant-sql';
import { createTenants } from '../utils/tenants';

/**
 * On one node: every statement a tenant's code sends names the tenant (the routing predicate Citus
 * needs), and the results are what RLS alone gave. The same operations are EXPLAINed on a cluster in
 * test/citus/citus-module.spec.ts.
 */
describe('Routing predicate and prelude on a single node', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let tenancy: TenancyService;
  let flows: Repository<Flow>;
  let tenants: string[];
  const ids = { flow: '', otherTenantsFlow: '', execution: '' };

  beforeAll(async () => {
    db = await createTestDatabase();
    tenants = await createTenants(db.url, ['a', 'b']);
    const [flowA, flowB] = await Promise.all(
      tenants.map((tenant) =>
        asTenant(db.url, tenant, async (c) => (await c.query(`INSERT INTO flows (tenant_id, name) VALUES ($1, 'f') RETURNING id`, [tenant])).rows[0].id, true),
      ),
    );
    ids.flow = flowA;
    ids.otherTenantsFlow = flowB;
    ids.execution = await asSystem(db.url, async (c) => {
      const version = (
        await c.query(`INSERT INTO flow_versions (tenant_id, flow_id, version, definition, content_hash) VALUES ($1, $2, 1, '{}', repeat('a', 64)) RETURNING id`, [tenants[0], flowA])
      ).rows[0].id;
      return (await c.query(`INSERT INTO execution_snapshots (tenant_id, flow_id, flow_version_id, status) VALUES ($1, $2, $3, 'running') RETURNING id`, [tenants[0], flowA, version])).rows[0].id;
    });
    app = await bootApp(DatabaseModule.forRoot({ useDatabase: true, url: db.url, readEnvironment: false, poolSize: 4 }));
    tenancy = app.get(TenancyService);
    flows = app.get(getRepositoryToken(Flow));
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('detects a single node at start', () => {
    expect(app.get(ClusterTopology).preludeForm).toBe('single-node');
  });

  describe('every statement of a tenant names the tenant', () => {
    const all = () => [...tenantOperations(app, ids), ...lifecycleWrites(app, ids)];
    const names = () => {
      const stub = { get: () => ({}) } as unknown as INestApplication;
      return [...tenantOperations(stub, ids), ...lifecycleWrites(stub, ids)].map(([name]) => name);
    };
    it.each(names())('%s', async (name) => {
      const work = all().find(([n]) => n === name)![1];
      const sent = await tenantStatementsOf(app, tenants[0], work);
      expect(sent.length).toBeGreaterThan(0);
      for (const { sql, parameters } of sent) {
        const named = /tenant_id/.test(sql) && parameters.some((value) => value === tenants[0]);
        expect({ sql, named }).toEqual({ sql, named: true });
      }
    });
  });

  it('the predicate changes no result: reads, counts and writes see the tenant\'s rows only, as with RLS alone', async () => {
    const [a, b] = tenants;
    const read = (tenant: string) =>
      tenancy.runInTenant(tenant, async () => ({
        found: (await flows.find()).map((f) => f.id),
        byId: await flows.findOneBy({ id: ids.flow }),
        count: await flows.count(),
        otherExists: await flows.existsBy({ id: ids.otherTenantsFlow }),
        raw: (await flows.query('SELECT id FROM flows')).map((r: { id: string }) => r.id),
      }));
    const seenByA = await read(a);
    expect(seenByA).toMatchObject({ found: seenByA.raw, count: seenByA.raw.length, otherExists: false, byId: { id: ids.flow } });
    const seenByB = await read(b);
    expect(seenByB).toMatchObject({ found: seenByB.raw, count: 1, otherExists: true, byId: null });
    // Another tenant's row is neither updated nor deleted through the repository.
    await tenancy.runInTenant(b, async () => {
      await expect(flows.update({ id: ids.flow }, { description: 'by b' })).resolves.toMatchObject({ affected: 0 });
      await expect(flows.delete({ id: ids.flow })).resolves.toMatchObject({ affected: 0 });
    });
    await expect(tenancy.runInTenant(a, () => flows.existsBy({ id: ids.flow }))).resolves.toBe(true);
  });

  it('the system path adds no predicate: it sees every tenant', async () => {
    await expect(tenancy.runAsSystem(() => flows.count())).resolves.toBeGreaterThanOrEqual(2);
  });

  it("Citus's prelude form works on a single node too (citus: true): the tenant is set, isolation holds", async () => {
    const warnings: string[] = [];
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation((message: unknown) => void warnings.push(String(message)));
    const forced = await bootApp(DatabaseModule.forRoot({ useDatabase: true, url: db.url, readEnvironment: false, poolSize: 2, citus: 'true' })).finally(
      () => warn.mockRestore(),
    );
    try {
      expect(forced.get(ClusterTopology).preludeForm).toBe('citus');
      // This server's fdl_app and fdl_system are NOLOGIN, as the migrations make them: on a cluster
      // the workers would refuse them, and the start says so.
      for (const role of ['fdl_app', 'fdl_system']) {
        expect(warnings).toContainEqual(expect.stringMatching(new RegExp(`^${role} cannot log in: on Citus .*docs/citus.md`)));
      }
      const rows = await forced.get(TenancyService).runInTenant(tenants[1], () => flows.query(`SELECT tenant_id, current_setting('app.current_tenant_id') AS setting FROM flows`));
      expect(rows).toEqual([{ tenant_id: tenants[1], setting: tenants[1] }]);
    } finally {
      await forced.close();
    }
  });

  describe('the SET statement of the Citus prelude', () => {
    const timeouts = { statementMs: 1000, idleInTransactionMs: 2000 };

    it('writes the canonical (lower-case) UUID', () => {
      const upper = 'ABCDEF01-2345-4678-9ABC-DEF012345678';
      expect(tenantSetStatement(upper)).toBe(`SET LOCAL app.current_tenant_id = '${upper.toLowerCase()}'`);
    });

    it.each([
      `00000000-0000-4000-8000-000000000000'; RESET ROLE; SELECT '`,
      `00000000-0000-4000-8000-000000000000' OR '1'='1`,
      `00000000-0000-4000-8000-00000000000\\'`,
      '',
    ])('refuses a hostile id %j before any SQL is built', (hostile) => {
      expect(() => tenantSetStatement(hostile)).toThrow(InvalidTenantIdError);
      expect(() => preludeStatements('citus', { kind: 'tenant', tenantId: hostile }, timeouts)).toThrow(InvalidTenantIdError);
    });

    it('the single-node prelude is unchanged: the tenant is a bind parameter, never in the text', () => {
      const tenantId = '00000000-0000-4000-8000-000000000001';
      const statements = preludeStatements('single-node', { kind: 'tenant', tenantId }, timeouts);
      expect(statements.map((s) => s.text).join('; ')).not.toContain(tenantId);
      expect(statements.find((s) => s.values?.includes(tenantId))?.values).toEqual([tenantId, '', '1000', '2000']);
    });

    it.each([
      `o'brien`,
      `x'; RESET ROLE; SELECT '`,
      `back\\slash\\' ; --`,
      `\\'; SET LOCAL app.current_tenant_id = '00000000-0000-4000-8000-000000000001`,
      `$$ E'\\x00' $$ ünïcødé 🙂`,
    ])('the Citus prelude carries the actor %j as a literal that reads back exactly', async (actor) => {
      const statements = preludeStatements('citus', { kind: 'system' }, timeouts, true, actor);
      const set = statements.find((statement) => statement.text.startsWith('SET LOCAL app.current_actor'))!;
      const read = await asSystem(db.url, async (c) => {
        await c.query(set.text);
        return (await c.query(`SELECT current_setting('app.current_actor') AS actor, current_setting('app.current_tenant_id', true) AS tenant`)).rows[0];
      }, false);
      expect(read).toEqual({ actor, tenant: null });
    });

    it('refuses an actor with NUL before any SQL is built', () => {
      expect(() => preludeStatements('citus', { kind: 'system' }, timeouts, true, 'a\0b')).toThrow(InvalidActorError);
    });
  });
});

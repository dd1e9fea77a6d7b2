import type { INestApplication } from '@nestjs/common';
import { getRepositoryToken } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { DatabaseModule, Flow, TenancyService } from '../../src';
import { PreparedStatements } from '../../src/connection/prepared-statements';
import { bootApp } from '../utils/apps';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';
import { asSuperuser, asTenant } from '../utils/tenant-sql';
import { createTenants } from '../utils/tenants';

interface Prepared {
  name: string;
  statement: string;
}

/** The transaction's first round trip as named statements, on a pool of one connection. */
describe(PreparedStatements.name, () => {
  let db: TestDatabase;
  let tenants: string[];
  const apps: INestApplication[] = [];

  const boot = async (preparedStatements?: boolean) => {
    const app = await bootApp(DatabaseModule.forRoot({ useDatabase: true, url: db.url, readEnvironment: false, poolSize: 1, preparedStatements }));
    apps.push(app);
    const flows = app.get<Repository<Flow>>(getRepositoryToken(Flow));
    const inTenant = <T>(tenant: string, work: () => Promise<T>) => app.get(TenancyService).runInTenant(tenant, work);
    /** A tenant's flows by name, then what its connection has prepared, in the same transaction. */
    const readAs = (tenant: string) =>
      inTenant(tenant, async () => ({
        names: (await flows.findBy({ name: 'f' })).map((flow) => flow.tenantId),
        prepared: (await flows.query(`SELECT name, statement FROM pg_prepared_statements ORDER BY name`)) as Prepared[],
      }));
    return { app, readAs };
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    tenants = await createTenants(db.url, ['a', 'b']);
    // Generic plans from the first execution: a plan made for one tenant must not serve another.
    await asSuperuser(db.url, (c) => c.query(`ALTER DATABASE "${db.name}" SET plan_cache_mode = force_generic_plan`));
    for (const tenant of tenants) await asTenant(db.url, tenant, (c) => c.query(`INSERT INTO flows (tenant_id, name) VALUES ($1, 'f')`, [tenant]), true);
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    await db?.drop();
  });

  it('prepares the prelude and the first query once per connection, named by their text', async () => {
    const { readAs } = await boot();
    const first = await readAs(tenants[0]);
    const prepared = first.prepared.filter((p) => p.name.startsWith('fdl_'));
    expect(prepared.map((p) => p.statement)).toEqual(
      expect.arrayContaining([
        'RESET ALL',
        'SELECT public.fdl_require_active_tenant()',
        expect.stringMatching(/^SELECT pg_catalog\.set_config\('role', 'fdl_app', true\), pg_catalog\.set_config\('app\.current_tenant_id', \$1, true\)/),
        expect.stringMatching(/FROM "flows"/),
      ]),
    );
    for (const p of prepared) expect(p.name).toMatch(/^fdl_[0-9a-f]{32}$/);
    // What runs before the session guard is never prepared: a name there could be an impostor's.
    expect(prepared.map((p) => p.statement)).not.toEqual(expect.arrayContaining([expect.stringMatching(/^BEGIN|^SET LOCAL ROLE|fdl_assert_clean_session/)]));
    // The values are bound, never in the text: the other tenant's transaction uses the same statements.
    const second = await readAs(tenants[1]);
    expect(second.prepared.filter((p) => p.name.startsWith('fdl_'))).toEqual(prepared);
  });

  it('statements prepared in one tenant\'s transaction return each tenant only its own rows', async () => {
    const { readAs } = await boot();
    for (let round = 0; round < 3; round++) {
      expect((await readAs(tenants[0])).names).toEqual([tenants[0]]);
      expect((await readAs(tenants[1])).names).toEqual([tenants[1]]);
    }
  });

  it('prepares nothing with preparedStatements: false', async () => {
    const { app, readAs } = await boot(false);
    expect(app.get(PreparedStatements).enabled).toBe(false);
    expect((await readAs(tenants[0])).prepared).toEqual([]);
  });

  it("the application's own EXECUTE of an unknown statement fails as it is, and prepared statements stay on", async () => {
    const { app, readAs } = await boot();
    const flows = app.get<Repository<Flow>>(getRepositoryToken(Flow));
    await expect(app.get(TenancyService).runInTenant(tenants[0], () => flows.query('EXECUTE never_prepared'))).rejects.toThrow(/never_prepared/);
    expect(app.get(PreparedStatements).enabled).toBe(true);
    expect((await readAs(tenants[0])).names).toEqual([tenants[0]]);
  });

  it('statements the connection lost are parsed again on it, and prepared statements stay on', async () => {
    const { app, readAs } = await boot();
    const flows = app.get<Repository<Flow>>(getRepositoryToken(Flow));
    const before = await readAs(tenants[0]);
    const pid = () => app.get(TenancyService).runInTenant(tenants[0], async () => (await flows.query('SELECT pg_backend_pid() AS pid'))[0].pid);
    const connection = await pid();
    // What a pooler that hands the next transaction another server connection does to the client,
    // and what SQL injected into an earlier transaction could do.
    await app.get(TenancyService).runInTenant(tenants[0], () => flows.query('DEALLOCATE ALL'));
    const after = await readAs(tenants[1]);
    expect(after.names).toEqual([tenants[1]]);
    expect(after.prepared).toEqual(before.prepared);
    expect(await pid()).toBe(connection);
    expect(app.get(PreparedStatements).enabled).toBe(true);
  });
});

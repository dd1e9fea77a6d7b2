import type { INestApplication } from '@nestjs/common';
import { getRepositoryToken } from '@nestjs/typeorm';
import { DataSource, type Repository } from 'typeorm';
import { DatabaseModule, Flow, TenancyService } from '../../src';
import { ClusterTopology } from '../../src/cluster/cluster-topology';
import { SessionGuard } from '../../src/connection/session-guard';
import { bootApp } from '../utils/apps';
import { PGBOUNCER, startPgBouncer } from '../utils/pgbouncer';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';
import { asSuperuser, asTenant } from '../utils/tenant-sql';
import { createTenants } from '../utils/tenants';

/**
 * When the prelude carries the session guard (src/connection/session-guard.ts): after any SQL the module
 * did not write, or any other use of the connection, and always behind a pooler. On a pool of one
 * connection.
 */
describe(SessionGuard.name, () => {
  let db: TestDatabase;
  let tenant: string;
  let app: INestApplication;
  let flows: Repository<Flow>;
  let inTenant: <T>(work: () => Promise<T>) => Promise<T>;

  /** How often the guard has run: a sequence it advances (not transactional: every call counts). */
  const guardCalls = () =>
    asSuperuser(db.url, async (c) => {
      const { rows } = await c.query(`SELECT CASE WHEN is_called THEN last_value ELSE 0 END::int AS calls FROM guard_calls`);
      return rows[0].calls as number;
    });
  const callsDuring = async (work: () => Promise<unknown>) => {
    const before = await guardCalls();
    await work();
    return (await guardCalls()) - before;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    // The guard, counting its calls: the same body behind a counter.
    await asSuperuser(db.url, (c) =>
      c.query(`
        CREATE SEQUENCE guard_calls;
        GRANT USAGE ON SEQUENCE guard_calls TO fdl_app, fdl_system;
        DO $$ BEGIN
          EXECUTE format('CREATE FUNCTION public.guard_body() RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS %L',
            (SELECT prosrc FROM pg_proc WHERE proname = 'fdl_assert_clean_session'));
        END $$;
        GRANT EXECUTE ON FUNCTION guard_body() TO fdl_app, fdl_system;
        CREATE OR REPLACE FUNCTION fdl_assert_clean_session() RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
          AS $$ BEGIN PERFORM pg_catalog.nextval('public.guard_calls'); PERFORM public.guard_body(); END $$;`),
    );
    [tenant] = await createTenants(db.url, ['a']);
    await asTenant(db.url, tenant, (c) => c.query(`INSERT INTO flows (tenant_id, name) VALUES ($1, 'f')`, [tenant]), true);
    app = await bootApp(DatabaseModule.forRoot({ useDatabase: true, url: db.url, readEnvironment: false, poolSize: 1 }));
    flows = app.get(getRepositoryToken(Flow));
    inTenant = (work) => app.get(TenancyService).runInTenant(tenant, work);
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('a connection on which only the module\'s own statements ran is not guarded again', async () => {
    await inTenant(() => flows.findOneBy({ name: 'f' })); // whatever came before, this one vouches
    expect(await callsDuring(() => inTenant(() => flows.findOneBy({ name: 'f' })))).toBe(0);
    expect(await callsDuring(() => inTenant(() => flows.save(flows.create({ tenantId: tenant, name: `n-${Date.now()}` }))))).toBe(0);
  });

  it('after SQL the module did not write, the next transaction on the connection is guarded, and only that one', async () => {
    await inTenant(() => flows.findOneBy({ name: 'f' }));
    await inTenant(() => flows.query('SELECT 1'));
    expect(await callsDuring(() => inTenant(() => flows.findOneBy({ name: 'f' })))).toBe(1);
    expect(await callsDuring(() => inTenant(() => flows.findOneBy({ name: 'f' })))).toBe(0);
  });

  it("TypeORM's own statements count as SQL the module did not write", async () => {
    await inTenant(() => flows.findOneBy({ name: 'f' }));
    await inTenant(() => flows.find({ order: { name: 'ASC' } }));
    expect(await callsDuring(() => inTenant(() => flows.findOneBy({ name: 'f' })))).toBe(1);
  });

  it('after the connection served anything else (a query outside a tenant transaction), the next transaction is guarded', async () => {
    await inTenant(() => flows.findOneBy({ name: 'f' }));
    await app.get(DataSource).query('SELECT 1');
    expect(await callsDuring(() => inTenant(() => flows.findOneBy({ name: 'f' })))).toBe(1);
  });

  it('a handler that failed leaves its connection vouched for: its ROLLBACK is the module\'s own statement', async () => {
    await inTenant(() => flows.findOneBy({ name: 'f' }));
    await expect(inTenant(async () => (await flows.findOneBy({ name: 'f' }), Promise.reject(new Error('handler failed'))))).rejects.toThrow('handler failed');
    // The rollback is the module's own statement: nothing else ran.
    expect(await callsDuring(() => inTenant(() => flows.findOneBy({ name: 'f' })))).toBe(0);
  });

  (PGBOUNCER ? it : it.skip)('behind a pooler every transaction is guarded (the server session is not the connection\'s)', async () => {
    const bouncer = await startPgBouncer(process.env.FDL_TEST_SERVER_URL!, 1);
    const pooled = await bootApp(DatabaseModule.forRoot({ useDatabase: true, url: bouncer.urlOf(db.name), readEnvironment: false, poolSize: 1 }));
    try {
      expect(pooled.get(ClusterTopology).behindPooler).toBe(true);
      expect(app.get(ClusterTopology).behindPooler).toBe(false);
      const pooledFlows = pooled.get<Repository<Flow>>(getRepositoryToken(Flow));
      const read = () => pooled.get(TenancyService).runInTenant(tenant, () => pooledFlows.findOneBy({ name: 'f' }));
      await read();
      expect(await callsDuring(read)).toBe(1);
    } finally {
      await pooled.close();
      await bouncer.stop();
    }
  });
});

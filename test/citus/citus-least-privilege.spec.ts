import { type INestApplication, Logger } from '@nestjs/common';
import { getRepositoryToken } from '@nestjs/typeorm';
import type { Client } from 'pg';
import { DataSource, type Repository } from 'typeorm';
import { DatabaseModule, Flow, HistoryPartitionsService, TenancyService, Tenant } from '../../src';
import { ClusterTopology } from '../../src/cluster/cluster-topology';
import { TenantContext } from '../../src/tenant-context/tenant-context';
import { bootApp } from '../utils/apps';
import {
  type CitusDatabase,
  createCitusDatabase,
  describeOnCitus,
  distributionViolations,
  letRolesReachWorkers,
  migrateCitus,
  onNode,
  startExtraCitusNode,
  withClient,
  withClusterRolesLocked,
} from '../utils/citus';
import { archiveInMonth, expectedPlacement, month, placement, seedTenants } from '../utils/history-months';
import { applyLeastPrivilegeLogins, loginUrl, TEST_LOGINS } from '../utils/least-privilege';

/**
 * What the administrator's script leaves on one node: who owns schema `public`, and what PUBLIC may
 * still do there (SECURITY.md, "Session state"; docs/security-model.md, "Least privilege").
 */
async function layoutOf(c: Client) {
  const { rows } = await c.query(
    `SELECT pg_catalog.pg_get_userbyid(n.nspowner) AS "publicOwner",
            EXISTS (SELECT FROM aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a WHERE a.grantee = 0 AND a.privilege_type = 'CREATE') AS "publicMayCreate",
            EXISTS (SELECT FROM pg_catalog.pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
                    WHERE d.datname = current_database() AND a.grantee = 0 AND a.privilege_type = 'TEMPORARY') AS "publicMayCreateTemp",
            has_function_privilege($2, 'pg_catalog.lo_create(oid)', 'EXECUTE') AS "runtimeMayCreateLargeObjects",
            has_function_privilege($2, 'pg_catalog.pg_advisory_lock(bigint)', 'EXECUTE') AS "runtimeMayLockSession",
            has_function_privilege($1, 'pg_catalog.pg_advisory_lock(bigint)', 'EXECUTE') AS "ownerMayLockSession"
     FROM pg_catalog.pg_namespace n WHERE n.nspname = 'public'`,
    [TEST_LOGINS.owner, TEST_LOGINS.runtime],
  );
  return rows[0];
}

const LAYOUT = {
  publicOwner: TEST_LOGINS.owner,
  publicMayCreate: false,
  publicMayCreateTemp: false,
  runtimeMayCreateLargeObjects: false,
  runtimeMayLockSession: false,
  ownerMayLockSession: true,
};

/**
 * The layout SECURITY.md recommends, on a Citus cluster (issue 23, finding 6), set up as README tells
 * an operator to: the database on every node with Citus in it and the workers registered, then
 * sql/least-privilege-logins.sql once on the coordinator, then `npm run migration:run` as the owner
 * login, then the module on the runtime and system logins. Before the script applied its schema
 * change on the workers too, the owner's migration failed there (`permission denied for schema
 * public`: PostgreSQL 15 lets only the database owner create in `public`, and Citus creates the
 * schema's functions and the shards on the workers as the migrating login).
 */
describeOnCitus('The least-privilege layout on a Citus cluster (sql/least-privilege-logins.sql)', () => {
  let db: CitusDatabase;
  const nodes = () => [
    ['coordinator', db.url],
    ['worker 1', db.workerUrl(1)],
    ['worker 2', db.workerUrl(2)],
  ];

  beforeAll(async () => {
    db = await createCitusDatabase();
    // The script creates, grants and alters cluster-wide roles (Citus propagates them to the workers).
    await withClusterRolesLocked(() => withClient(db.url, (c) => applyLeastPrivilegeLogins(c)), db.port);
  });
  afterAll(() => db?.drop());

  it('the script leaves the same layout on every node: public owned by the owner login, PUBLIC without CREATE, TEMPORARY, large objects or session locks', async () => {
    const layouts = Object.fromEntries(await Promise.all(nodes().map(async ([node, url]) => [node, await withClient(url, layoutOf)])));
    expect(layouts).toEqual({ coordinator: LAYOUT, 'worker 1': LAYOUT, 'worker 2': LAYOUT });
  });

  it('the owner login migrates the cluster: every table distributed, and owned by it on every node', async () => {
    await migrateCitus(loginUrl(db.url, 'owner'));
    await expect(withClient(db.url, distributionViolations)).resolves.toEqual([]);
    for (const [node, url] of nodes()) {
      const owners = await withClient(url, async (c) =>
        (
          await c.query<{ owner: string }>(
            `SELECT DISTINCT pg_catalog.pg_get_userbyid(c.relowner) AS owner FROM pg_catalog.pg_class c
             WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')`,
          )
        ).rows.map((row) => row.owner),
      );
      expect({ node, owners }).toEqual({ node, owners: [TEST_LOGINS.owner] });
    }
  });

  describe('the runtime and system logins, through the module on the coordinator', () => {
    let app: INestApplication;
    let tenancy: TenancyService;
    let flows: Repository<Flow>;
    let tenantIds: string[];
    const warnings: string[] = [];

    beforeAll(async () => {
      // docs/citus.md, step 1: the roles tenant work switches to may log in (on the workers).
      await letRolesReachWorkers(db);
      const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation((message: unknown) => void warnings.push(String(message)));
      try {
        app = await bootApp(
          DatabaseModule.forRoot({
            useDatabase: true,
            url: loginUrl(db.url, 'runtime'),
            systemUrl: loginUrl(db.url, 'system'),
            readEnvironment: false,
            poolSize: 2,
          }),
        );
      } finally {
        warn.mockRestore();
      }
      tenancy = app.get(TenancyService);
      flows = app.get(getRepositoryToken(Flow));
      const tenants = app.get<Repository<Tenant>>(getRepositoryToken(Tenant));
      tenantIds = await tenancy.runAsSystem(async () => (await tenants.save([{ name: 'a' }, { name: 'b' }])).map((t) => t.id));
      for (const tenantId of tenantIds) {
        await tenancy.runInTenant(tenantId, () => flows.save(flows.create({ tenantId, name: `flow of ${tenantId}` })));
      }
    });
    afterAll(() => app?.close());

    it('starts on the Citus prelude without a warning', () => {
      expect(app.get(ClusterTopology).preludeForm).toBe('citus');
      expect(warnings).toEqual([]);
    });

    it("a tenant reads its own rows from the workers, and not another tenant's", async () => {
      for (const tenantId of tenantIds) {
        await expect(tenancy.runInTenant(tenantId, () => flows.find())).resolves.toEqual([expect.objectContaining({ tenantId })]);
        // Without the routing predicate: every shard, where RLS filters with the propagated tenant.
        await expect(tenancy.runInTenant(tenantId, () => flows.query('SELECT tenant_id FROM flows'))).resolves.toEqual([{ tenant_id: tenantId }]);
      }
      await expect(tenancy.runAsSystem(() => flows.count())).resolves.toBe(2);
    });

    it('a query sent outside a tenant transaction, through the injected DataSource, is refused', async () => {
      const dataSource = app.get(DataSource);
      await expect(dataSource.query('SELECT * FROM flows')).rejects.toMatchObject({ code: '42501', message: 'permission denied for table flows' });
      await expect(dataSource.query('SELECT count(*) FROM execution_snapshots')).rejects.toMatchObject({ code: '42501' });
    });

    it('creating partitions moves the rows archived in the default partition for those months, though RLS binds the owner (issue 23, finding 5)', async () => {
      const system = loginUrl(db.url, 'system');
      const seeds = await seedTenants(system);
      const inMonth0 = await archiveInMonth(system, seeds, 0);
      const inMonth1 = await archiveInMonth(system, seeds, 1);
      expect(await placement(db.url)).toEqual({ ...expectedPlacement(inMonth0, 'execution_history_default'), ...expectedPlacement(inMonth1, 'execution_history_default') });

      // The last month of the call has rows to move too: nothing after it may set right what its move left.
      expect(await app.get(HistoryPartitionsService).createPartitionsAhead(1)).toEqual([month(0), month(1)]);
      expect(await placement(db.url)).toEqual({ ...expectedPlacement(inMonth0, month(0)), ...expectedPlacement(inMonth1, month(1)) });
      await expect(withClient(db.url, distributionViolations)).resolves.toEqual([]);
      // RLS is forced again on the default partition, and forced on the new ones, on every node's tables and shards
      // (the check's negative control: with FORCE left lifted on the default partition it names its shards).
      for (const [node, url] of nodes()) {
        const unforced = await withClient(url, async (c) => {
          // Shards are hidden from the catalog on the workers unless asked for.
          await c.query('SET citus.override_table_visibility TO off');
          return (
            await c.query(
              `SELECT relname FROM pg_catalog.pg_class WHERE relname LIKE 'execution\\_history\\_%' AND relkind IN ('r', 'p')
               AND NOT (relrowsecurity AND relforcerowsecurity) ORDER BY 1`,
            )
          ).rows.map((row) => row.relname);
        });
        expect({ node, unforced }).toEqual({ node, unforced: [] });
      }
      // Each tenant still reads only its own history, now from the new partitions' shards.
      for (const { tenant } of seeds) {
        await expect(
          tenancy.runInTenant(tenant, () => app.get(TenantContext).require('test').manager.query('SELECT DISTINCT tenant_id FROM execution_history')),
        ).resolves.toEqual([{ tenant_id: tenant }]);
      }
    });

    it('a worker added later gets the layout when the script runs again, and shards move onto it while the tenants keep their rows', async () => {
      const added = await startExtraCitusNode();
      try {
        await onNode(added.port, 'postgres', (c) => c.query(`CREATE DATABASE "${db.name}"`));
        await onNode(added.port, db.name, (c) => c.query('CREATE EXTENSION citus'));
        await withClusterRolesLocked(() => withClient(db.url, (c) => c.query(`SELECT citus_add_node('127.0.0.1', $1)`, [added.port])), db.port);
        // Before the script runs again, Citus cannot create the schema's objects on it as the owner.
        await expect(withClient(db.url, (c) => c.query(`SELECT replicate_reference_tables('block_writes')`))).rejects.toThrow(/permission denied for schema public/);
        await withClusterRolesLocked(() => withClient(db.url, (c) => applyLeastPrivilegeLogins(c)), db.port);
        await expect(withClient(`postgres://postgres@127.0.0.1:${added.port}/${db.name}`, layoutOf)).resolves.toEqual(LAYOUT);
        await withClient(db.url, async (c) => {
          await c.query(`SELECT citus_rebalance_start(shard_transfer_mode := 'block_writes')`);
          await c.query(`SELECT citus_rebalance_wait()`);
        });
        const [{ shards }] = await withClient(db.url, async (c) => (await c.query(`SELECT count(*)::int AS shards FROM citus_shards WHERE nodeport = $1`, [added.port])).rows);
        expect(shards).toBeGreaterThan(0);
        for (const tenantId of tenantIds) {
          await expect(tenancy.runInTenant(tenantId, () => flows.find({ where: { name: `flow of ${tenantId}` } }))).resolves.toEqual([expect.objectContaining({ tenantId })]);
        }
        await withClient(db.url, async (c) => {
          await c.query(`SELECT citus_drain_node('127.0.0.1', $1, shard_transfer_mode := 'block_writes')`, [added.port]);
          await c.query(`SELECT citus_remove_node('127.0.0.1', $1)`, [added.port]);
        });
      } finally {
        await added.stop();
      }
    }, 180_000);

    it('SQL in a tenant transaction cannot switch to fdl_system', async () => {
      const context = app.get(TenantContext);
      await expect(tenancy.runInTenant(tenantIds[0], () => context.require('test').manager.query('SET ROLE fdl_system'))).rejects.toMatchObject({
        code: '42501',
        message: 'permission denied to set role "fdl_system"',
      });
    });
  });
});

import { DataSource } from 'typeorm';
import { DATABASE_MIGRATIONS } from '../../src/migrations';
import { migrationDataSourceOptions } from '../../src/migrations/migration-data-source-options';
import { assertTenantIsolation, tenantTable } from '../../src';
import {
  addCitus,
  asSystemOnCitus,
  asTenantOnCitus,
  letRolesReachWorkers,
  type CitusDatabase,
  createCitusDatabase,
  describeOnCitus,
  distributionViolations,
  migrateCitus,
  withClusterRolesLocked,
  withClient,
} from '../utils/citus';

const distributedTables = (db: CitusDatabase) =>
  withClient(db.url, async (c) =>
    (await c.query<{ name: string }>(`SELECT logicalrelid::regclass::text AS name FROM pg_dist_partition ORDER BY 1`)).rows.map((r) => r.name),
  );

describeOnCitus('The schema on a Citus cluster', () => {
  const databases: CitusDatabase[] = [];
  const database = async (options?: { withCitus?: boolean }) => {
    const db = await createCitusDatabase(options);
    databases.push(db);
    return db;
  };
  afterAll(() => Promise.all(databases.map((db) => db.drop())));

  it('npm run migration:run leaves tenants a reference table and the tenant tables distributed by tenant_id in one co-location group', async () => {
    const db = await database();
    await migrateCitus(db.url);
    await expect(withClient(db.url, distributionViolations)).resolves.toEqual([]);
    expect(await distributedTables(db)).toEqual(
      ['audit_logs', 'execution_history', 'execution_history_default', 'execution_snapshots', 'flow_versions', 'flows', 'tenants'].sort(),
    );
  });

  it('migrations go up, all the way down, and up again on the coordinator', async () => {
    const db = await database();
    // Going down drops the roles where no other database uses them: a change to the cluster's roles.
    await withClusterRolesLocked(async () => {
      const dataSource = await new DataSource(migrationDataSourceOptions(db.url)).initialize();
      try {
        await dataSource.runMigrations({ transaction: 'all' });
        for (let i = 0; i < DATABASE_MIGRATIONS.length; i++) await dataSource.undoLastMigration({ transaction: 'all' });
        await expect(
          withClient(db.url, async (c) => (await c.query(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'migrations'`)).rows[0].n),
        ).resolves.toBe(0);
        await dataSource.runMigrations({ transaction: 'all' });
      } finally {
        await dataSource.destroy();
      }
    });
    await expect(withClient(db.url, distributionViolations)).resolves.toEqual([]);
  });

  it('the distribution migration (009) alone reverts to local tables and reapplies', async () => {
    const db = await database();
    await withClusterRolesLocked(async () => {
      const dataSource = await new DataSource(migrationDataSourceOptions(db.url)).initialize();
      try {
        await dataSource.runMigrations({ transaction: 'all' });
        // Down to 009: the migrations after it first.
        while ((await dataSource.query(`SELECT name FROM migrations ORDER BY timestamp DESC LIMIT 1`))[0].name !== 'DistributeOnCitus1795478400009') {
          await dataSource.undoLastMigration({ transaction: 'all' });
        }
        expect(await distributedTables(db)).not.toEqual([]);
        await dataSource.undoLastMigration({ transaction: 'all' });
        expect(await distributedTables(db)).toEqual([]);
        await dataSource.runMigrations({ transaction: 'all' });
      } finally {
        await dataSource.destroy();
      }
    });
    await expect(withClient(db.url, distributionViolations)).resolves.toEqual([]);
  });

  it('a database that gets Citus after it was migrated is distributed by SELECT fdl_distribute_on_citus(), once', async () => {
    const db = await database({ withCitus: false });
    await migrateCitus(db.url);
    // Distributing propagates the tables' dependencies, the roles among them, to the workers.
    const [first, again] = await withClusterRolesLocked(async () => {
      await addCitus(db);
      expect(await distributedTables(db)).toEqual([]);
      const distribute = () => withClient(db.url, async (c) => (await c.query('SELECT fdl_distribute_on_citus() AS t')).rows.map((r) => r.t));
      return [await distribute(), await distribute()];
    });
    expect(first).toEqual(['tenants', 'flows', 'flow_versions', 'execution_snapshots', 'execution_history', 'audit_logs']);
    expect(again).toEqual([]);
    await expect(withClient(db.url, distributionViolations)).resolves.toEqual([]);
  });

  it("an application's table made with tenantTable() is distributed with the others, and isolated through the coordinator", async () => {
    const db = await database();
    await migrateCitus(db.url);
    await letRolesReachWorkers(db);
    await withClusterRolesLocked(() =>
      // Citus's own views in public (citus_tables, citus_schemas) are not the application's schema.
      migrateComments(db, (dataSource) => expect(assertTenantIsolation(dataSource)).resolves.toBeUndefined()),
    );
    await expectCommentsBesideFlows(db);
    const [a, b] = await asSystemOnCitus(db.url, async (c) =>
      (await c.query(`INSERT INTO tenants (name) VALUES ('a'), ('b') RETURNING id`)).rows.map((row) => row.id as string),
    );
    for (const tenant of [a, b]) {
      await asTenantOnCitus(db.url, tenant, (c) => c.query(`INSERT INTO comments (tenant_id, body) VALUES ($1, 'hello')`, [tenant]), true);
    }
    const seenByA = await asTenantOnCitus(db.url, a, async (c) => (await c.query('SELECT tenant_id FROM comments')).rows.map((row) => row.tenant_id));
    expect(seenByA).toEqual([a]);
  });

  it("a database migrated before Citus, with an application table keyed to flows: fdl_distribute_on_citus() distributes it with the library's", async () => {
    const db = await database({ withCitus: false });
    await migrateCitus(db.url);
    await withClusterRolesLocked(async () => {
      await migrateComments(db);
      await addCitus(db);
      const distributed = await withClient(db.url, async (c) => (await c.query('SELECT fdl_distribute_on_citus() AS t')).rows.map((r) => r.t));
      expect(distributed).toEqual(['tenants', 'flows', 'flow_versions', 'execution_snapshots', 'execution_history', 'audit_logs', 'comments']);
    });
    await expectCommentsBesideFlows(db);
    await expect(withClient(db.url, distributionViolations)).resolves.toEqual([]);
  });

  it('negative control: a tenant table left undistributed is reported', async () => {
    const db = await database();
    await migrateCitus(db.url);
    const violations = await withClient(db.url, async (c) => {
      await c.query('BEGIN');
      await c.query(`SET LOCAL citus.multi_shard_modify_mode = 'sequential'`);
      await c.query(`SELECT undistribute_table('audit_logs')`);
      const found = await distributionViolations(c);
      await c.query('ROLLBACK');
      return found;
    });
    expect(violations).toEqual(['audit_logs: local, expected distributed by tenant_id']);
  });
});

/**
 * README's migration of an application table keyed to flows, on `db`'s coordinator (the key given
 * to tenantTable(): in the CREATE TABLE, Citus refuses it); then `check` on the same DataSource.
 */
async function migrateComments(db: CitusDatabase, check?: (dataSource: DataSource) => Promise<void>): Promise<void> {
  const dataSource = await new DataSource(migrationDataSourceOptions(db.url)).initialize();
  try {
    const runner = dataSource.createQueryRunner();
    await runner.startTransaction();
    await runner.query(`CREATE TABLE comments (
      id uuid NOT NULL DEFAULT gen_random_uuid(), tenant_id uuid NOT NULL, body text NOT NULL, flow_id uuid,
      CONSTRAINT "PK_comments" PRIMARY KEY (tenant_id, id))`);
    await tenantTable(runner, 'comments', {
      foreignKeys: [`CONSTRAINT "FK_comments_flow" FOREIGN KEY (tenant_id, flow_id) REFERENCES flows (tenant_id, id)`],
    });
    await runner.commitTransaction();
    await runner.release();
    await check?.(dataSource);
  } finally {
    await dataSource.destroy();
  }
}

/** comments is distributed in the co-location group of flows, its key to flows in place. */
async function expectCommentsBesideFlows(db: CitusDatabase): Promise<void> {
  const placement = await withClient(db.url, async (c) =>
    (await c.query(`SELECT logicalrelid::regclass::text AS t, colocationid FROM pg_dist_partition WHERE logicalrelid IN ('comments'::regclass, 'flows'::regclass)`)).rows,
  );
  expect(placement).toHaveLength(2);
  expect(new Set(placement.map((row) => row.colocationid)).size).toBe(1);
  await expect(withClient(db.url, async (c) => (await c.query(`SELECT count(*)::int AS n FROM pg_constraint WHERE conname = 'FK_comments_flow'`)).rows[0].n)).resolves.toBe(1);
}

import type { INestApplication } from '@nestjs/common';
import type { Client } from 'pg';
import { DataSource } from 'typeorm';
import { DatabaseModule, HistoryPartitionsService, TenancyService } from '../../src';
import { MoveDefaultHistoryRows1795478400014 } from '../../src/migrations/1795478400014-MoveDefaultHistoryRows';
import { migrationDataSourceOptions } from '../../src/migrations/migration-data-source-options';
import { TenantContext } from '../../src/tenant-context/tenant-context';
import { bootApp } from '../utils/apps';
import { loginUrl, TEST_LOGINS } from '../utils/least-privilege';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';
import { archiveInMonth, expectedPlacement, month, monthStart, partitionNames, placement, type Seed, seedTenants } from '../utils/history-months';
import { asSuperuser, asSystem } from '../utils/tenant-sql';

/**
 * Issue 23, finding 5: in the production layout the partition functions run as an owner that is
 * neither superuser nor BYPASSRLS, and every table forces RLS with no policy for it. Rows that
 * landed in the default partition for a month must still be moved into that month's partition when
 * it is created, and the months after it created in the same call (migration 014).
 */

/** Runs `work` as the owner login, on its own connection. */
const asOwner = <T>(url: string, work: (c: Client) => Promise<T>) => asSuperuser(loginUrl(url, 'owner'), work);

describe('History partitions in the least-privilege layout (issue 23, finding 5)', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let partitions: HistoryPartitionsService;
  let seeds: Seed[];
  let inMonth0: string[];
  let inMonth1: string[];
  let inMonth6: string[];

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await bootApp(
      DatabaseModule.forRoot({ useDatabase: true, readEnvironment: false, poolSize: 3, url: loginUrl(db.url, 'runtime'), systemUrl: loginUrl(db.url, 'system') }),
    );
    partitions = app.get(HistoryPartitionsService);
    seeds = await seedTenants(loginUrl(db.url, 'system'));
    inMonth0 = await archiveInMonth(loginUrl(db.url, 'system'), seeds, 0);
    inMonth1 = await archiveInMonth(loginUrl(db.url, 'system'), seeds, 1);
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('the layout: the schema owner is neither superuser nor BYPASSRLS, and RLS hides the default partition from it', async () => {
    const owner = await asSuperuser(db.url, async (c) =>
      (
        await c.query(
          `SELECT r.rolname AS name, r.rolsuper AS superuser, r.rolbypassrls AS "bypassRls"
           FROM pg_class t JOIN pg_roles r ON r.oid = t.relowner WHERE t.oid = 'execution_history_default'::regclass`,
        )
      ).rows[0],
    );
    expect(owner).toEqual({ name: TEST_LOGINS.owner, superuser: false, bypassRls: false });
    expect(await placement(db.url)).toEqual({ ...expectedPlacement(inMonth0, 'execution_history_default'), ...expectedPlacement(inMonth1, 'execution_history_default') });
    await expect(asOwner(db.url, async (c) => (await c.query(`SELECT count(*)::int AS n FROM execution_history_default`)).rows[0].n)).resolves.toBe(0);
  });

  it('createPartitionsAhead creates this month and the next three, moves the default partition\'s rows into theirs, and leaves the default partition empty', async () => {
    expect(await partitions.createPartitionsAhead(3)).toEqual([month(0), month(1), month(2), month(3)]);
    expect(await placement(db.url)).toEqual({ ...expectedPlacement(inMonth0, month(0)), ...expectedPlacement(inMonth1, month(1)) });
    expect(await partitionNames(db.url)).toEqual([month(0), month(1), month(2), month(3), 'execution_history_default'].sort());
    await expect(asSuperuser(db.url, async (c) => (await c.query(`SELECT count(*)::int AS n FROM execution_history_default`)).rows[0].n)).resolves.toBe(0);
  });

  it('the default partition forces RLS again, the new partitions force it and grant nothing; each tenant still reads only its own history', async () => {
    const tables = await asSuperuser(db.url, async (c) =>
      (
        await c.query(
          `SELECT c.relname AS name, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced,
                  (SELECT count(*)::int FROM aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a WHERE a.grantee <> c.relowner) AS "otherGrants",
                  (SELECT count(*)::int FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
           FROM pg_class c WHERE c.relname = ANY ($1) ORDER BY 1`,
          [['execution_history_default', month(0), month(1), month(2), month(3)]],
        )
      ).rows,
    );
    expect(tables).toEqual(
      ['execution_history_default', month(0), month(1), month(2), month(3)].sort().map((name) => ({ name, enabled: true, forced: true, otherGrants: 0, policies: 0 })),
    );
    // FORCE is back in the committed catalog: a row that lands in the default partition now is hidden from the owner again.
    inMonth6 = await archiveInMonth(loginUrl(db.url, 'system'), seeds, 6, 1);
    await expect(asOwner(db.url, async (c) => (await c.query(`SELECT count(*)::int AS n FROM execution_history_default`)).rows[0].n)).resolves.toBe(0);
    expect(await placement(db.url)).toMatchObject(expectedPlacement(inMonth6, 'execution_history_default'));

    const tenancy = app.get(TenancyService);
    const context = app.get(TenantContext);
    for (const { tenant } of seeds) {
      const seen = await tenancy.runInTenant(tenant, () =>
        context.require('test').manager.query(`SELECT DISTINCT tenant_id FROM execution_history`),
      );
      expect(seen).toEqual([{ tenant_id: tenant }]);
    }
  });

  it('the partitions that received rows carry the parent\'s foreign key (adopted, validated) and enforce it', async () => {
    const keys = await asSuperuser(db.url, async (c) =>
      (
        await c.query(
          `SELECT c.conrelid::regclass::text AS partition, c.conname AS name, p.conname AS parent, c.convalidated AS validated
           FROM pg_constraint c JOIN pg_constraint p ON p.oid = c.conparentid
           WHERE c.contype = 'f' AND c.conrelid = ANY ($1::regclass[]) ORDER BY 1`,
          [[month(0), month(1)]],
        )
      ).rows,
    );
    expect(keys).toEqual(
      [month(0), month(1)].map((partition) => ({ partition, name: 'FK_execution_history_flow_version', parent: 'FK_execution_history_flow_version', validated: true })),
    );
    // A moved row pointing at a version that does not exist is refused (the key is enforced on the partition).
    await expect(
      asSystem(loginUrl(db.url, 'system'), (c) =>
        c.query(
          `INSERT INTO execution_history (id, tenant_id, flow_id, flow_version_id, status, input, state, version, created_at, completed_at)
           VALUES (gen_random_uuid(), $1, $2, gen_random_uuid(), 'completed', '{}', '{}', 2, now(), $3)`,
          [seeds[0].tenant, seeds[0].flow, new Date(monthStart(1).getTime() + 86_400_000)],
        ),
      ),
    ).rejects.toMatchObject({ code: '23503', constraint: 'FK_execution_history_flow_version' });
  });

  it('a second call creates only the months still missing', async () => {
    expect(await partitions.createPartitionsAhead(3)).toEqual([]);
    expect(await partitions.createPartitionsAhead(4)).toEqual([month(4)]);
  });

  it('retention drops whole months older than the cutoff, with their rows, and keeps the rest and the default partition', async () => {
    // An old month, made by the owner as an operator would, with archived rows routed into it.
    await asOwner(db.url, (c) =>
      c.query(`CREATE TABLE ${month(-3)} PARTITION OF execution_history FOR VALUES FROM ('${monthStart(-3).toISOString()}') TO ('${monthStart(-2).toISOString()}')`),
    );
    const old = await archiveInMonth(loginUrl(db.url, 'system'), seeds, -3);
    expect(await placement(db.url)).toMatchObject(expectedPlacement(old, month(-3)));

    expect(await partitions.dropHistoryOlderThan(2)).toEqual([month(-3)]);
    expect(await partitions.dropHistoryOlderThan(2)).toEqual([]);

    // The months that received the moved rows, dropped through the same function as the system login.
    const dropped = await asSystem(loginUrl(db.url, 'system'), async (c) =>
      (await c.query(`SELECT fdl_drop_history_partitions_before($1) AS name`, [monthStart(2)])).rows.map((row) => row.name),
    );
    expect(dropped).toEqual([month(0), month(1)]);
    expect(await partitionNames(db.url)).toEqual([month(2), month(3), month(4), 'execution_history_default'].sort());
    // Left: the rows of month 6, in the default partition, which retention leaves alone.
    expect(await placement(db.url)).toEqual(expectedPlacement(inMonth6, 'execution_history_default'));
  });
});

describe('The same call without migration 014 (negative control)', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let partitions: HistoryPartitionsService;

  beforeAll(async () => {
    db = await createTestDatabase();
    // Migration 014's down(), run by the owner: the function as migration 007 shipped it.
    const asOwnerDataSource = await new DataSource(migrationDataSourceOptions(loginUrl(db.url, 'owner'))).initialize();
    try {
      const queryRunner = asOwnerDataSource.createQueryRunner();
      await queryRunner.startTransaction();
      await new MoveDefaultHistoryRows1795478400014().down(queryRunner);
      await queryRunner.commitTransaction();
      await queryRunner.release();
    } finally {
      await asOwnerDataSource.destroy();
    }
    app = await bootApp(
      DatabaseModule.forRoot({ useDatabase: true, readEnvironment: false, poolSize: 3, url: loginUrl(db.url, 'runtime'), systemUrl: loginUrl(db.url, 'system') }),
    );
    partitions = app.get(HistoryPartitionsService);
    const seeds = await seedTenants(loginUrl(db.url, 'system'));
    await archiveInMonth(loginUrl(db.url, 'system'), seeds, 1);
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('fails: the owner sees no row to move, and the ATTACH finds them in the default partition; no month of the call is created', async () => {
    await expect(partitions.createPartitionsAhead(3)).rejects.toThrow(/updated partition constraint for default partition "execution_history_default" would be violated/);
    expect(await partitionNames(db.url)).toEqual(['execution_history_default']);
  });

  it('fails too when the owner does see the rows: the ATTACH validates the foreign key under RLS on flow_versions', async () => {
    await asOwner(db.url, (c) => c.query(`ALTER TABLE execution_history_default NO FORCE ROW LEVEL SECURITY`));
    await expect(partitions.createPartitionsAhead(3)).rejects.toMatchObject({ code: '23503', constraint: 'FK_execution_history_flow_version' });
    expect(await partitionNames(db.url)).toEqual(['execution_history_default']);
  });
});

describe('The same move on a schema owned by a superuser', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase({ migrated: false });
    const dataSource = await new DataSource({ ...migrationDataSourceOptions(db.url), logging: false }).initialize();
    try {
      await dataSource.runMigrations({ transaction: 'all' });
    } finally {
      await dataSource.destroy();
    }
  });
  afterAll(() => db?.drop());

  it('moves the rows, creates every month, and leaves the default partition forced', async () => {
    const seeds = await seedTenants(db.url);
    const inMonth0 = await archiveInMonth(db.url, seeds, 0);
    const inMonth1 = await archiveInMonth(db.url, seeds, 1);
    const created = await asSystem(db.url, async (c) => (await c.query(`SELECT fdl_create_history_partitions(2) AS name`)).rows.map((row) => row.name));
    expect(created).toEqual([month(0), month(1), month(2)]);
    expect(await placement(db.url)).toEqual({ ...expectedPlacement(inMonth0, month(0)), ...expectedPlacement(inMonth1, month(1)) });
    const defaultPartition = await asSuperuser(db.url, async (c) =>
      (
        await c.query(
          `SELECT r.rolsuper AS "ownerIsSuperuser", c.relforcerowsecurity AS forced
           FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE c.oid = 'execution_history_default'::regclass`,
        )
      ).rows[0],
    );
    expect(defaultPartition).toEqual({ ownerIsSuperuser: true, forced: true });
  });
});

import { randomBytes } from 'node:crypto';
import { type INestApplication, Logger } from '@nestjs/common';
import { getRepositoryToken } from '@nestjs/typeorm';
import { DataSource, type Repository } from 'typeorm';
import { DatabaseModule, type DatabaseModuleOptions, Flow, runPendingMigrations, TenancyService, Tenant } from '../../src';
import { migrationDataSourceOptions } from '../../src/migrations/migration-data-source-options';
import { TenantContext } from '../../src/tenant-context/tenant-context';
import { bootApp } from '../utils/apps';
import { applyLeastPrivilegeLogins, loginUrl, TEST_LOGINS } from '../utils/least-privilege';
import { createTestDatabase, type TestDatabase, withServerClient } from '../utils/test-database';

/** Boots the module and returns it with what it logged at start. */
async function boot(options: DatabaseModuleOptions): Promise<{ app: INestApplication; warnings: string[]; logs: string[] }> {
  const warnings: string[] = [];
  const logs: string[] = [];
  const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation((message: unknown) => void warnings.push(String(message)));
  const log = jest.spyOn(Logger.prototype, 'log').mockImplementation((message: unknown) => void logs.push(String(message)));
  try {
    const app = await bootApp(DatabaseModule.forRoot({ useDatabase: true, readEnvironment: false, poolSize: 3, ...options }));
    return { app, warnings, logs };
  } finally {
    warn.mockRestore();
    log.mockRestore();
  }
}

describe('The least-privilege layout (sql/least-privilege-logins.sql)', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let started: { warnings: string[]; logs: string[] };
  let tenancy: TenancyService;
  let flows: Repository<Flow>;
  let tenantIds: string[];

  beforeAll(async () => {
    db = await createTestDatabase();
    const booted = await boot({ url: loginUrl(db.url, 'runtime'), systemUrl: loginUrl(db.url, 'system') });
    ({ app } = booted);
    started = booted;
    tenancy = app.get(TenancyService);
    flows = app.get(getRepositoryToken(Flow));
    const tenants = app.get<Repository<Tenant>>(getRepositoryToken(Tenant));
    tenantIds = await tenancy.runAsSystem(async () => (await tenants.save([{ name: 'a' }, { name: 'b' }])).map((t) => t.id));
    for (const tenantId of tenantIds) {
      await tenancy.runInTenant(tenantId, () => flows.save(flows.create({ tenantId, name: `flow of ${tenantId}` })));
    }
  });
  afterAll(async () => {
    await app?.close();
    await db.drop();
  });

  it('starts without a warning, and says both logins are least-privilege', () => {
    expect(started.warnings).toEqual([]);
    expect(started.logs).toEqual(
      expect.arrayContaining([
        `DATABASE_URL logs in as "${TEST_LOGINS.runtime}": least privilege (owns nothing, no privileges of its own)`,
        `FDL_SYSTEM_DATABASE_URL logs in as "${TEST_LOGINS.system}": least privilege (owns nothing, no privileges of its own)`,
      ]),
    );
  });

  it('a query sent outside a tenant transaction, through the injected DataSource, is refused instead of reading every tenant', async () => {
    const dataSource = app.get(DataSource);
    await expect(dataSource.query('SELECT * FROM flows')).rejects.toMatchObject({ code: '42501', message: 'permission denied for table flows' });
    await expect(dataSource.createQueryRunner().query('SELECT count(*) FROM execution_snapshots')).rejects.toMatchObject({ code: '42501' });
  });

  it.each([
    ['SET ROLE fdl_system', 'SET ROLE fdl_system'],
    ["set_config('role', 'fdl_system', true)", "SELECT set_config('role', 'fdl_system', true)"],
  ])('SQL in a tenant transaction cannot switch to fdl_system (%s)', async (_case, sql) => {
    const context = app.get(TenantContext);
    await expect(tenancy.runInTenant(tenantIds[0], () => context.require('test').manager.query(sql))).rejects.toMatchObject({
      code: '42501',
      message: 'permission denied to set role "fdl_system"',
    });
  });

  it('tenants still read only their own rows, and the system path still works', async () => {
    for (const tenantId of tenantIds) {
      const seen = await tenancy.runInTenant(tenantId, () => flows.find());
      expect(seen.map((flow) => flow.tenantId)).toEqual([tenantId]);
    }
    await expect(tenancy.runAsSystem(() => flows.count())).resolves.toBe(2);
  });
});

describe('Logins that can do more than they need', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  it('a superuser login starts with a warning that names the risk', async () => {
    const { app, warnings } = await boot({ url: db.url });
    await app.close();
    expect(warnings).toEqual([expect.stringMatching(/^DATABASE_URL logs in as "\w+", a superuser: a query sent outside a tenant transaction bypasses row level security and reads every tenant's rows/)]);
  });

  /** A login of its own for one test (roles are cluster-wide: the shared test logins stay as they are). */
  async function withLogin<T>(attributes: string, work: (name: string, url: string) => Promise<T>): Promise<T> {
    const name = `fdl_test_tmp_${randomBytes(4).toString('hex')}`;
    await withServerClient((c) => c.query(`CREATE ROLE ${name} LOGIN PASSWORD '${name}' ${attributes}`));
    const url = new URL(db.url);
    url.username = name;
    url.password = name;
    try {
      return await work(name, url.toString());
    } finally {
      await withServerClient((c) => c.query(`REASSIGN OWNED BY ${name} TO ${TEST_LOGINS.owner}; DROP OWNED BY ${name}`), db.url);
      await withServerClient((c) => c.query(`DROP ROLE ${name}`));
    }
  }

  it('a login that owns tables starts with a warning naming them', async () => {
    await withLogin('IN ROLE fdl_app, fdl_system', async (name, url) => {
      await withServerClient((c) => c.query(`ALTER TABLE flows OWNER TO ${name}; ALTER TABLE audit_logs OWNER TO ${name}`), db.url);
      const { app, warnings } = await boot({ url });
      await app.close();
      expect(warnings).toEqual([
        expect.stringContaining(`logs in as "${name}", which owns flows, audit_logs: SQL sent as it can disable their row level security`),
        expect.stringContaining(`logs in as "${name}", which may read tenants, flow_versions, execution_snapshots, execution_history without switching role`),
      ]);
    });
  });

  it('a tenant login that can still become fdl_system while the system path has its own login is warned about', async () => {
    await withLogin('NOINHERIT IN ROLE fdl_app, fdl_system', async (_name, url) => {
      const { app, warnings } = await boot({ url, systemUrl: loginUrl(db.url, 'system') });
      await app.close();
      expect(warnings).toEqual([expect.stringContaining(`which can still become fdl_system although the system path has a login of its own`)]);
    });
  });

  it('a login that cannot become the role it serves is refused at start, with the GRANT that fixes it', async () => {
    // The runtime login may become fdl_app only: as the sole login, the system path would fail.
    await expect(boot({ url: loginUrl(db.url, 'runtime') })).rejects.toThrow(
      `DATABASE_URL logs in as "${TEST_LOGINS.runtime}", which cannot SET ROLE fdl_system: the system path would fail. Grant it: GRANT fdl_system TO "${TEST_LOGINS.runtime}"`,
    );
  });

  it('runPendingMigrations as the runtime login refuses, naming the owner; on an empty database, too', async () => {
    const asRuntime = await new DataSource(migrationDataSourceOptions(loginUrl(db.url, 'runtime'))).initialize();
    try {
      await expect(runPendingMigrations(asRuntime)).rejects.toThrow(`migrations must run as the schema's owner: "${TEST_LOGINS.owner}" owns its tables`);
    } finally {
      await asRuntime.destroy();
    }
    const empty = await createTestDatabase({ migrated: false });
    try {
      await withServerClient(applyLeastPrivilegeLogins, empty.url);
      const onEmpty = await new DataSource(migrationDataSourceOptions(loginUrl(empty.url, 'runtime'))).initialize();
      try {
        await expect(runPendingMigrations(onEmpty)).rejects.toThrow(`"${TEST_LOGINS.runtime}" may not create tables in schema public`);
      } finally {
        await onEmpty.destroy();
      }
    } finally {
      await empty.drop();
    }
  });
});

import type { INestApplication } from '@nestjs/common';
import { Client } from 'pg';
import { DatabaseModule, type DatabaseModuleOptions, TenantNotFoundError } from '../../src';
import { bootApp } from '../utils/apps';
import { DataSource } from 'typeorm';
import { inspectLoginRole, judgeLoginRole } from '../../src/security/login-role';
import { loginUrl, TEST_LOGINS } from '../utils/least-privilege';
import { MODERN_PGBOUNCER, MODERN_PGBOUNCER_SKIP_REASON, PGBOUNCER, type PgBouncer, startPgBouncer } from '../utils/pgbouncer';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';
import { asSuperuser, asSystem, asTenant } from '../utils/tenant-sql';
import { createTenants } from '../utils/tenants';
import {
  attack,
  expectServedAsB,
  type HostileBackend,
  type Instance,
  instanceOf,
  openSessionStateToPublic,
  sessionStateCases,
  SWAP_PREPARED_STATEMENTS,
  VECTORS,
  victimTransaction,
} from './session-state.suite';

/**
 * SECURITY.md, "Session state": nothing a tenant transaction does may outlive it on the connection.
 * SQL of the attacker's choosing runs in tenant A's transaction (through a repository, as a handler
 * with an injection bug would send it); tenant B's next transactions reach the same server session
 * and must see and write only B's rows, with the module's settings, and be answered.
 */

/** Tenants a and b, each with one flow, in `db`. */
async function seedTenants(url: string): Promise<[string, string]> {
  const [a, b] = await createTenants(url, ['a', 'b']);
  for (const [tenant, name] of [[a, 'a-flow'], [b, 'b-flow']]) {
    await asTenant(url, tenant, (c) => c.query(`INSERT INTO flows (tenant_id, name) VALUES ($1, $2)`, [tenant, name]), true);
  }
  return [a, b];
}

async function openToPublic(db: TestDatabase): Promise<void> {
  await openSessionStateToPublic(db.url, db.name);
}

const moduleOn = (url: string, options: DatabaseModuleOptions = {}) =>
  bootApp(DatabaseModule.forRoot({ useDatabase: true, url, readEnvironment: false, poolSize: 1, ...options }));

/** A backend of one application on a pool of one connection: every transaction on the same session. */
async function onePooledConnection(url: (db: TestDatabase) => string, options: (db: TestDatabase) => DatabaseModuleOptions, productionLayout: boolean): Promise<HostileBackend> {
  const db = await createTestDatabase();
  // A clone of the template gets the template's objects and their grants, not the database's own
  // (TEMPORARY): that one revoke of the operator's script is made again here.
  if (productionLayout) await asSuperuser(db.url, (c) => c.query(`REVOKE TEMPORARY ON DATABASE "${db.name}" FROM PUBLIC`));
  else await openToPublic(db);
  const [a, b] = await seedTenants(db.url);
  const app = await moduleOn(url(db), options(db));
  const instance = instanceOf(app);
  return { attacker: instance, victim: instance, adminUrl: db.url, productionLayout, a, b, close: async () => (await app.close(), await db.drop()) };
}

describe('Session state: the production layout (runtime login, system login of its own), a pool of one connection', () => {
  let backend: HostileBackend;
  beforeAll(async () => {
    backend = await onePooledConnection((db) => loginUrl(db.url, 'runtime'), (db) => ({ systemUrl: loginUrl(db.url, 'system') }), true);
  });
  afterAll(() => backend?.close());
  sessionStateCases(() => backend);

  it('a tenant that swapped the tenant check is refused once the operator suspends it', async () => {
    const { attacker, a } = backend;
    await attacker.tenancy.runInTenant(a, async () => {
      await attacker.flows.query('SELECT 1');
      await attacker.flows.query(SWAP_PREPARED_STATEMENTS(a));
    });
    await asSystem(backend.adminUrl, (c) => c.query(`UPDATE tenants SET status = 'suspended' WHERE id = $1`, [a]));
    try {
      await expect(attacker.tenancy.runInTenant(a, () => attacker.flows.find())).rejects.toBeInstanceOf(TenantNotFoundError);
    } finally {
      await asSystem(backend.adminUrl, (c) => c.query(`UPDATE tenants SET status = 'active' WHERE id = $1`, [a]));
    }
  });
});

describe('Session state: session defaults a login gives itself (ALTER ROLE … SET from a tenant transaction)', () => {
  let backend: HostileBackend;
  let database: string;
  beforeAll(async () => {
    backend = await onePooledConnection((db) => loginUrl(db.url, 'runtime'), (db) => ({ systemUrl: loginUrl(db.url, 'system') }), true);
    database = new URL(backend.adminUrl).pathname.slice(1);
    const { attacker, a } = backend;
    await attacker.tenancy.runInTenant(a, async () => {
      await attacker.flows.query('SELECT 1');
      await attacker.flows.query('RESET ROLE');
      // IN DATABASE: the test's logins serve every spec file's database; an attacker would not bother.
      // (search_path = pg_temp, … is left out: without TEMPORARY, every new connection then fails at its
      // first statement, in TypeORM's start-up: a denial of service, named in SECURITY.md.)
      for (const setting of ['default_transaction_read_only = on', `default_transaction_isolation = 'serializable'`, 'row_security = off']) {
        await attacker.flows.query(`ALTER ROLE CURRENT_USER IN DATABASE "${database}" SET ${setting}`);
      }
    });
  });
  afterAll(async () => {
    await asSuperuser(backend.adminUrl, (c) => c.query(`ALTER ROLE ${TEST_LOGINS.runtime} IN DATABASE "${database}" RESET ALL`));
    await backend?.close();
  });

  it('decide nothing that isolation depends on in the connections opened after them', async () => {
    const app = await moduleOn(loginUrl(backend.adminUrl, 'runtime'), { systemUrl: loginUrl(backend.adminUrl, 'system') });
    try {
      expectServedAsB({ ...backend, victim: instanceOf(app) }, await victimTransaction({ ...backend, victim: instanceOf(app) }, 0));
    } finally {
      await app.close();
    }
  });

  it('are named by the check the module makes at start', async () => {
    const dataSource = await new DataSource({ type: 'postgres', url: loginUrl(backend.adminUrl, 'runtime') }).initialize();
    try {
      const { warnings } = judgeLoginRole(await inspectLoginRole(dataSource), 'tenant', 'DATABASE_URL');
      expect(warnings).toEqual([expect.stringContaining(`${TEST_LOGINS.runtime}: default_transaction_read_only=on`)]);
    } finally {
      await dataSource.destroy();
    }
  });
});

describe('Session state: a superuser login, a pool of one connection (the module\'s own defences, nothing revoked)', () => {
  let backend: HostileBackend;
  beforeAll(async () => {
    backend = await onePooledConnection((db) => db.url, () => ({}), false);
  });
  afterAll(() => backend?.close());
  sessionStateCases(() => backend);
});

describe('Session state: the embedded database', () => {
  let backend: HostileBackend;
  let app: INestApplication;
  beforeAll(async () => {
    app = await bootApp(DatabaseModule.forRoot({ useDatabase: false, readEnvironment: false }));
    const { DatabaseServer } = await import('../../src/module/database-server');
    const url = await app.get(DatabaseServer).url();
    const [a, b] = await seedTenants(url);
    const instance = instanceOf(app);
    backend = { attacker: instance, victim: instance, adminUrl: url, productionLayout: false, a, b, close: () => app.close() };
  });
  afterAll(() => backend?.close());
  sessionStateCases(() => backend);
});

/** Two application instances behind one PgBouncer with a single server connection: every transaction shares it. */
function throughPgBouncer(label: string, binary: string | undefined, settings: Record<string, string>): void {
  describe(`Session state: through ${label} (transaction pooling, one server connection, two app instances)`, () => {
    let backend: HostileBackend;
    let db: TestDatabase;
    let bouncer: PgBouncer;
    const apps: INestApplication[] = [];
    beforeAll(async () => {
      db = await createTestDatabase();
      await openToPublic(db);
      const [a, b] = await seedTenants(db.url);
      bouncer = await startPgBouncer(process.env.FDL_TEST_SERVER_URL!, 1, { binary, settings });
      const url = bouncer.urlOf(db.name);
      for (let i = 0; i < 2; i++) apps.push(await moduleOn(url, { poolSize: 2 }));
      const [attacker, victim]: Instance[] = apps.map(instanceOf);
      backend = { attacker, victim, adminUrl: db.url, productionLayout: false, a, b, close: async () => undefined };
    });
    afterAll(async () => {
      for (const app of apps) await app.close();
      await bouncer?.stop();
      await db?.drop();
    });
    sessionStateCases(() => backend);
  });
}

if (PGBOUNCER) throughPgBouncer('PgBouncer 1.18 (Debian)', PGBOUNCER, {});
else if (process.env.CI) it('PgBouncer is installed', () => expect(PGBOUNCER).toBeDefined());
else describe.skip('Session state through PgBouncer (skipped: pgbouncer is not installed: apt-get install pgbouncer)', () => it('', () => undefined));

if (MODERN_PGBOUNCER) {
  for (const max of ['0', '200']) {
    throughPgBouncer(`PgBouncer ${MODERN_PGBOUNCER.version}, max_prepared_statements = ${max}`, MODERN_PGBOUNCER.binary, { max_prepared_statements: max });
  }
} else {
  describe.skip(`Session state through PgBouncer 1.21+ (skipped: ${MODERN_PGBOUNCER_SKIP_REASON})`, () => it('', () => undefined));
}

/**
 * Negative controls: each defence removed in turn, the matching case fails. The guard is replaced by
 * a function that does nothing, in a database of the control's own.
 */
describe('Session state: negative controls', () => {
  let backend: HostileBackend;
  const tenantSeenByB = () =>
    backend.victim.tenancy.runInTenant(backend.b, async () => (await backend.victim.flows.query(`SELECT current_setting('app.current_tenant_id') AS tenant, ARRAY(SELECT pg_listening_channels()) AS channels`))[0]);
  const withoutGuard = async (work: () => Promise<void>) => {
    await asSuperuser(backend.adminUrl, (c) =>
      c.query(`CREATE OR REPLACE FUNCTION fdl_assert_clean_session() RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$ BEGIN END $$`),
    );
    try {
      await work();
    } finally {
      // A fresh connection each: the control leaves its own state behind.
      await backend.close();
      backend = await onePooledConnection((db) => db.url, () => ({}), false);
    }
  };
  beforeEach(async () => {
    backend = await onePooledConnection((db) => db.url, () => ({}), false);
  });
  afterEach(() => backend?.close());

  it('with the guard, impostor statements are never bound: B runs as B', async () => {
    await attack(backend, VECTORS[0], 'commit');
    expect((await tenantSeenByB()).tenant).toBe(backend.b);
  });

  it('without the guard, impostor statements run B\'s transaction as tenant A', async () => {
    await withoutGuard(async () => {
      await attack(backend, VECTORS[0], 'commit');
      expect((await tenantSeenByB()).tenant).toBe(backend.a);
    });
  });

  it('without the guard, a LISTEN of tenant A\'s transaction is still on the connection in B\'s', async () => {
    await withoutGuard(async () => {
      await attack(backend, VECTORS.find((v) => v.name === 'LISTEN')!, 'commit');
      expect((await tenantSeenByB()).channels).toEqual(['fdl_exfiltration']);
    });
  });

  it('without the guard, a session-level advisory lock outlives B\'s transaction', async () => {
    const vector = VECTORS.find((v) => v.name === 'a session-level advisory lock')!;
    await withoutGuard(async () => {
      await attack(backend, vector, 'commit');
      await victimTransaction(backend, 0);
      expect(await vector.gone!(backend.adminUrl)).toBe(false);
    });
  });

  it('without the guard, the pinned search_path still keeps a temporary flows table from B (the second defence)', async () => {
    await withoutGuard(async () => {
      await attack(backend, VECTORS.find((v) => v.name.startsWith('temporary tables'))!, 'commit');
      expectServedAsB(backend, await victimTransaction(backend, 0));
    });
  });

  /** Two transactions on one raw connection, as `fdl_app` with a tenant each: what the module's prelude prevents. */
  async function rawConnection(work: (tx: (tenant: string, sql: string, prelude?: string) => Promise<unknown[]>) => Promise<void>): Promise<void> {
    const client = new Client({ connectionString: backend.adminUrl });
    await client.connect();
    try {
      await work(async (tenant, sql, prelude = '') => {
        await client.query('BEGIN');
        await client.query(`SELECT set_config('role', 'fdl_app', true), set_config('app.current_tenant_id', $1, true)`, [tenant]);
        if (prelude) await client.query(prelude);
        const { rows } = await client.query(sql);
        await client.query('COMMIT');
        return rows;
      });
    } finally {
      await client.end();
    }
  }

  it('without the pinned search_path, a temporary flows table captures B\'s reads', async () => {
    await rawConnection(async (tx) => {
      await tx(backend.a, 'CREATE TEMP TABLE flows AS SELECT * FROM public.flows');
      expect(await tx(backend.b, 'SELECT tenant_id FROM flows')).toEqual([{ tenant_id: backend.a }]);
      expect(await tx(backend.b, 'SELECT tenant_id FROM flows', `SELECT set_config('search_path', '"$user", public, pg_temp', true)`)).toEqual([{ tenant_id: backend.b }]);
    });
  });

  it('without RESET ALL, a committed SET SESSION reaches B\'s transaction', async () => {
    await rawConnection(async (tx) => {
      await tx(backend.a, `SET SESSION DateStyle = 'SQL, DMY'`);
      expect(await tx(backend.b, `SELECT current_setting('DateStyle') AS style`)).toEqual([{ style: 'SQL, DMY' }]);
      expect(await tx(backend.b, `SELECT current_setting('DateStyle') AS style`, 'RESET ALL')).toEqual([{ style: 'ISO, MDY' }]);
    });
  });
});

import type { INestApplication } from '@nestjs/common';
import { getRepositoryToken } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { Flow, TenancyService } from '../../src';
import { asSuperuser } from '../utils/tenant-sql';

/** One application instance: its tenancy service and its `Flow` repository. */
export interface Instance {
  tenancy: TenancyService;
  flows: Repository<Flow>;
}

export const instanceOf = (app: INestApplication): Instance => ({ tenancy: app.get(TenancyService), flows: app.get(getRepositoryToken(Flow)) });

/**
 * Where the attack runs: tenant A's transactions on `attacker`, tenant B's on `victim`, both reaching
 * the same server session (a pool of one; or two instances behind a pooler with one server connection).
 */
export interface HostileBackend {
  attacker: Instance;
  victim: Instance;
  /** A superuser's URL of the database, for the checks made around the applications. */
  adminUrl: string;
  /** The production layout (sql/least-privilege-logins.sql): what the operator's script revokes must be refused. */
  productionLayout: boolean;
  /** The tenants, with a flow each ('a-flow', 'b-flow'). */
  a: string;
  b: string;
  close(): Promise<void>;
}

/**
 * Gives PUBLIC back what sql/least-privilege-logins.sql revokes for session state (the test template
 * ran it): the layouts that test the module's own defences must let the attack do everything it can.
 */
export async function openSessionStateToPublic(url: string, database: string): Promise<void> {
  await asSuperuser(url, (c) =>
    c.query(`
      GRANT TEMPORARY ON DATABASE "${database}" TO PUBLIC;
      GRANT EXECUTE ON FUNCTION lo_create(oid), lo_creat(integer), lo_from_bytea(oid, bytea),
        pg_advisory_lock(bigint), pg_advisory_lock(integer, integer), pg_advisory_lock_shared(bigint), pg_advisory_lock_shared(integer, integer),
        pg_try_advisory_lock(bigint), pg_try_advisory_lock(integer, integer), pg_try_advisory_lock_shared(bigint), pg_try_advisory_lock_shared(integer, integer)
      TO PUBLIC`),
  );
}

/** What an attack does in tenant A's transaction: SQL a bug in a handler lets through, as the attacker writes it. */
export interface SessionStateVector {
  name: string;
  statements(a: string): string[];
  /** Refused in the production layout (the operator's script revokes what it needs). */
  refusedInProductionLayout?: boolean;
  /** A check of its own, after tenant B's transaction: the state is gone for everyone. */
  gone?(adminUrl: string): Promise<boolean>;
}

/**
 * Swaps every prepared statement of the module's on the connection for an impostor with the same
 * name and parameters, in which the tenant setting names tenant A. node-postgres still believes the
 * connection holds the module's text, so the next transaction would only Bind it.
 */
export const SWAP_PREPARED_STATEMENTS = (a: string) => `DO $attack$
DECLARE s record;
BEGIN
  FOR s IN SELECT name, statement, parameter_types FROM pg_prepared_statements WHERE NOT from_sql LOOP
    IF s.statement LIKE 'SELECT%' THEN
      EXECUTE format('DEALLOCATE %I', s.name);
      EXECUTE format('PREPARE %I%s AS %s', s.name,
        CASE WHEN cardinality(s.parameter_types) > 0 THEN '(' || array_to_string(s.parameter_types::text[], ', ') || ')' ELSE '' END,
        replace(replace(s.statement,
          'set_config(''app.current_tenant_id'', $1, true)', 'set_config(''app.current_tenant_id'', ''${a}'', true)'),
          'public.fdl_require_active_tenant()', 'NULL::void'));
    END IF;
  END LOOP;
END $attack$`;

const ADVISORY_KEY = 424242;

export const VECTORS: SessionStateVector[] = [
  { name: 'prepared statements swapped for impostors that set tenant A', statements: (a) => [SWAP_PREPARED_STATEMENTS(a)] },
  { name: 'prepared statements deallocated', statements: () => ['DEALLOCATE ALL'] },
  // PgBouncer 1.21+ sees a DEALLOCATE ALL by its command tag and forgets the server's statements; one
  // inside a DO block it does not see, and goes on binding statements the server no longer has.
  { name: 'prepared statements deallocated where a pooler does not see it', statements: () => [`DO $$ BEGIN EXECUTE 'DEALLOCATE ALL'; END $$`] },
  {
    name: 'temporary tables shadowing flows and audit_logs',
    statements: () => [
      'CREATE TEMP TABLE flows (LIKE public.flows INCLUDING DEFAULTS)',
      'INSERT INTO pg_temp.flows SELECT * FROM public.flows',
      'CREATE TEMP TABLE audit_logs (LIKE public.audit_logs INCLUDING DEFAULTS)',
    ],
    refusedInProductionLayout: true,
  },
  {
    name: 'a session-level advisory lock',
    statements: () => [`SELECT pg_advisory_lock(${ADVISORY_KEY})`],
    refusedInProductionLayout: true,
    gone: (url) =>
      asSuperuser(url, async (c) => {
        const [{ free }] = (await c.query(`SELECT pg_try_advisory_lock(${ADVISORY_KEY}) AS free`)).rows;
        if (free) await c.query(`SELECT pg_advisory_unlock(${ADVISORY_KEY})`);
        return free as boolean;
      }),
  },
  {
    name: 'session settings (search_path, tenant, DateStyle, read-only, isolation, synchronous_commit, row_security)',
    statements: (a) => [
      'SET SESSION search_path = pg_temp, public',
      `SELECT set_config('app.current_tenant_id', '${a}', false)`,
      `SET SESSION DateStyle = 'SQL, DMY'`,
      'SET SESSION default_transaction_read_only = on',
      `SET SESSION default_transaction_isolation = 'serializable'`,
      'SET SESSION synchronous_commit = off',
      'SET SESSION row_security = off',
    ],
  },
  { name: 'LISTEN', statements: () => ['LISTEN fdl_exfiltration'] },
  { name: 'a cursor WITH HOLD over tenant A\'s rows', statements: () => ['DECLARE exfiltration CURSOR WITH HOLD FOR SELECT * FROM flows'] },
  {
    name: 'a large object',
    statements: () => [`SELECT lo_from_bytea(0, convert_to(current_setting('app.current_tenant_id'), 'UTF8'))`],
    refusedInProductionLayout: true,
  },
];

/** Runs `vector` in tenant A's transaction; resolves to the SQLSTATE that refused it, if one did. */
export async function attack(backend: HostileBackend, vector: SessionStateVector, ending: 'commit' | 'rollback'): Promise<string | undefined> {
  const { attacker, a } = backend;
  let refused: string | undefined;
  await attacker.tenancy
    .runInTenant(a, async () => {
      await attacker.flows.query('SELECT 1');
      for (const sql of vector.statements(a)) {
        try {
          await attacker.flows.query(sql);
        } catch (error) {
          refused = (error as { code?: string }).code ?? (error as Error).message;
          throw error;
        }
      }
      if (ending === 'rollback') await attacker.flows.query('SELECT 1/0');
    })
    .catch(() => undefined);
  return refused;
}

/** What tenant B's next transaction sees and does; `served` is false where anything was wrong. */
export async function victimTransaction(backend: HostileBackend, round: number) {
  const { victim, b } = backend;
  const name = `b-written-${round}-${Math.random().toString(36).slice(2)}`;
  const seen = await victim.tenancy.runInTenant(b, async () => {
    const own = await victim.flows.findOneBy({ name: 'b-flow' });
    const all = await victim.flows.find();
    const written = await victim.flows.save(victim.flows.create({ tenantId: b, name }));
    const [facts] = await victim.flows.query(
      `SELECT current_user AS role, current_setting('app.current_tenant_id') AS tenant, current_setting('DateStyle') AS "dateStyle",
              current_setting('transaction_read_only') AS "readOnly", current_setting('transaction_isolation') AS isolation,
              current_setting('synchronous_commit') AS "synchronousCommit", current_setting('row_security') AS "rowSecurity",
              current_setting('search_path') AS "searchPath"`,
    );
    return { own, tenants: all.map((flow) => flow.tenantId), written, facts };
  });
  const stored = await asSuperuser(backend.adminUrl, async (c) =>
    (await c.query(`SELECT tenant_id FROM public.flows WHERE id = $1 AND name = $2`, [seen.written.id, name])).rows.map((row) => row.tenant_id),
  );
  return { ...seen, stored };
}

/** The assertions on tenant B's transaction: its rows only, its own write stored, the module's settings. */
export function expectServedAsB(backend: HostileBackend, seen: Awaited<ReturnType<typeof victimTransaction>>): void {
  expect(seen.own?.tenantId).toBe(backend.b);
  expect(seen.tenants.length).toBeGreaterThan(0);
  expect(seen.tenants.every((tenant) => tenant === backend.b)).toBe(true);
  expect(seen.stored).toEqual([backend.b]);
  expect(seen.facts).toEqual({
    role: 'fdl_app',
    tenant: backend.b,
    dateStyle: expect.stringMatching(/^ISO/),
    readOnly: 'off',
    isolation: 'read committed',
    synchronousCommit: 'on',
    rowSecurity: 'on',
    searchPath: '"$user", public, pg_temp',
  });
}

/**
 * The hostile class: for each vector, committed and rolled back, tenant B's next transactions on the
 * same server session see and write only B's rows, with the module's settings, and are answered.
 */
export function sessionStateCases(backend: () => HostileBackend): void {
  let round = 0;
  describe.each(VECTORS)('$name', (vector) => {
    it.each(['commit', 'rollback'] as const)('left by a transaction that ends in %s: tenant B is served as B, and the state is gone', async (ending) => {
      const current = backend();
      const refused = await attack(current, vector, ending);
      if (current.productionLayout && vector.refusedInProductionLayout) expect(refused).toBe('42501');
      for (let i = 0; i < 2; i++) expectServedAsB(current, await victimTransaction(current, round++));
      if (vector.gone) expect(await vector.gone(current.adminUrl)).toBe(true);
    });
  });
}

import type { DataSource } from 'typeorm';
import { TENANT_COLUMN } from '../tenancy/tenant-column';
import { crossTenantKeys, describeCrossTenantKey } from './cross-tenant-keys';
import { CURRENT_TENANT_SETTING } from '../tenancy/tenant-policy';

/** Runs one catalog query and returns its rows: a pg `Client`, a `DataSource`, a `QueryRunner`. */
export type CatalogQuery = <Row>(sql: string) => Promise<Row[]>;

const readsTenant = (expression: string | null) => expression?.includes(`current_setting('${CURRENT_TENANT_SETTING}'`) ?? false;

/**
 * The table rules of tenant isolation, read from the catalog of the `public` schema. A table is
 * checked when it has a `tenant_id` column, or when `fdl_app` has any privilege on it:
 *
 * - row level security enabled and forced (partitions included);
 * - a policy for `fdl_app` whose USING reads `app.current_tenant_id`, with a WITH CHECK that does
 *   too unless it is SELECT-only; no policy for PUBLIC (partitions: the parent's policy applies);
 * - `fdl_app` may SELECT a table with `tenant_id` (otherwise every query is "permission denied");
 * - no key of a table with `tenant_id` spans tenants (PostgreSQL checks keys without RLS): every
 *   primary key, unique constraint, unique index (partial and expression ones too) and exclusion
 *   constraint has `tenant_id` in its key, and every foreign key to a tenant table pairs `tenant_id`
 *   with its `tenant_id` (to `tenants`, with its `id`); see {@link crossTenantKeys};
 * - no TRUNCATE, REFERENCES or TRIGGER for `fdl_app`, `fdl_system` or PUBLIC (TRUNCATE ignores
 *   RLS), and no grant at all to PUBLIC.
 *
 * Returns one line per violation, `<table>: <rule>`; empty when every table follows every rule.
 */
export async function tenantTableViolations(query: CatalogQuery): Promise<string[]> {
  const violations: string[] = [];
  const tables = await query<{ name: string; rls: boolean; forced: boolean; tenantScoped: boolean; partition: boolean; appSelect: boolean }>(
    `SELECT c.relname AS name, c.relrowsecurity AS rls, c.relforcerowsecurity AS forced,
            EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = '${TENANT_COLUMN}' AND NOT a.attisdropped) AS "tenantScoped",
            c.relispartition AS partition,
            has_table_privilege('fdl_app', c.oid, 'SELECT') AS "appSelect"
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND ${notExtensionMember('c.oid')}
       AND (EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = '${TENANT_COLUMN}' AND NOT a.attisdropped)
            OR has_table_privilege('fdl_app', c.oid, 'SELECT, INSERT, UPDATE, DELETE'))
     ORDER BY c.relname`,
  );
  for (const table of tables) {
    if (!table.rls) violations.push(`${table.name}: row level security is not enabled`);
    if (!table.forced) violations.push(`${table.name}: row level security is not forced`);
  }
  const policies = await query<{ table: string; roles: string[]; cmd: string; qual: string | null; check: string | null }>(
    `SELECT tablename AS table, roles, cmd, qual, with_check AS check FROM pg_policies WHERE schemaname = 'public'`,
  );
  for (const table of tables.filter((t) => !t.partition)) {
    const appPolicies = policies.filter((p) => p.table === table.name && p.roles.includes('fdl_app'));
    if (appPolicies.length === 0) violations.push(`${table.name}: no policy for fdl_app`);
    for (const policy of appPolicies) {
      if (!readsTenant(policy.qual)) violations.push(`${table.name}: fdl_app policy USING does not read app.current_tenant_id`);
      if (policy.cmd !== 'SELECT' && !readsTenant(policy.check)) {
        violations.push(`${table.name}: fdl_app policy has no WITH CHECK on app.current_tenant_id`);
      }
    }
    if (policies.some((p) => p.table === table.name && p.roles.includes('public'))) {
      violations.push(`${table.name}: a policy applies to PUBLIC`);
    }
    if (table.tenantScoped && !table.appSelect) violations.push(`${table.name}: fdl_app has no SELECT grant`);
  }
  violations.push(...(await crossTenantKeys(query)).map(describeCrossTenantKey));
  const dangerousGrants = await query<{ table: string; privilege: string; grantee: string }>(
    `SELECT table_name AS table, privilege_type AS privilege, grantee FROM information_schema.role_table_grants
     WHERE table_schema = 'public' AND grantee IN ('fdl_app', 'fdl_system', 'PUBLIC')
       AND privilege_type IN ('TRUNCATE', 'REFERENCES', 'TRIGGER')
       AND ${notExtensionMember(GRANTED_TABLE)}`,
  );
  for (const grant of dangerousGrants) violations.push(`${grant.grantee} has ${grant.privilege} on ${grant.table}`);
  const publicGrants = await query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.role_table_grants
     WHERE table_schema = 'public' AND grantee = 'PUBLIC' AND ${notExtensionMember(GRANTED_TABLE)}`,
  );
  for (const grant of publicGrants) violations.push(`PUBLIC has a grant on ${grant.table_name}`);
  return violations;
}

/** The relation a row of `information_schema.role_table_grants` is about. */
const GRANTED_TABLE = `to_regclass(quote_ident(table_schema) || '.' || quote_ident(table_name))`;

/**
 * The relation `oid` is not part of an extension: an extension's own relations in `public` (Citus
 * puts views such as `citus_tables` and `citus_schemas` there, readable by PUBLIC) are the
 * extension's to secure, hold no tenant's rows, and are not the application's schema.
 */
function notExtensionMember(oid: string): string {
  return `NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = ${oid} AND d.deptype = 'e')`;
}

/** The schema does not isolate tenants: {@link violations} names each table and rule broken. */
export class TenantIsolationError extends Error {
  override name = 'TenantIsolationError';
  constructor(readonly violations: string[]) {
    super(`tenant isolation is broken:\n${violations.map((violation) => `  - ${violation}`).join('\n')}`);
  }
}

/**
 * Checks every table of the database behind `dataSource` against {@link tenantTableViolations}
 * and throws {@link TenantIsolationError} listing all violations. Meant for an application's own
 * tests, after its migrations: a table made without `tenantTable()` fails here, named, and so does
 * a key that spans tenants added after `tenantTable()` ran (e.g. `ADD CONSTRAINT … UNIQUE (number)`
 * in a later migration), which `tenantTable()` itself cannot see.
 */
export async function assertTenantIsolation(dataSource: DataSource): Promise<void> {
  const violations = await tenantTableViolations((sql) => dataSource.query(sql));
  if (violations.length) throw new TenantIsolationError(violations);
}

import { Client } from 'pg';

/** The migration tools' own tables: they differ between TypeORM, sqlx and psql by design. */
export const BOOKKEEPING_TABLES = ['migrations', '_sqlx_migrations', 'typeorm_metadata'];

/**
 * A sorted, deterministic description of one schema as PostgreSQL's catalogs hold it: what two ways
 * of creating it (TypeORM migrations, plain SQL files, up → down → up) must agree on. Compare two
 * with `toEqual`; the diff names the table and the object that differ.
 *
 * Privileges are read from the ACLs with their defaults filled in (`acldefault`), so a missing
 * `REVOKE … FROM PUBLIC` shows up as a `PUBLIC` grant. The owner appears as `OWNER`, not by name,
 * so that snapshots taken as different login roles still compare.
 */
export interface SchemaSnapshot {
  schemaGrants: string[];
  tables: TableSnapshot[];
  functions: FunctionSnapshot[];
  roles: RoleSnapshot[];
}

export interface TableSnapshot {
  name: string;
  /** pg_class.relkind: r table, p partitioned table, v view, m materialized view, S sequence, f foreign table. */
  kind: string;
  rowSecurity: boolean;
  forceRowSecurity: boolean;
  partitionKey: string | null;
  partitionOf: string | null;
  partitionBound: string | null;
  partitions: string[];
  columns: ColumnSnapshot[];
  constraints: NamedDefinition[];
  indexes: NamedDefinition[];
  policies: PolicySnapshot[];
  grants: string[];
  triggers: TriggerSnapshot[];
}

/** Columns are listed in table order. */
export interface ColumnSnapshot {
  name: string;
  type: string;
  notNull: boolean;
  default: string | null;
  identity: string | null;
  generated: string | null;
  grants: string[];
}

export interface NamedDefinition {
  name: string;
  definition: string;
}

export interface PolicySnapshot {
  name: string;
  command: string;
  permissive: boolean;
  roles: string[];
  using: string | null;
  withCheck: string | null;
}

export interface TriggerSnapshot extends NamedDefinition {
  /** pg_trigger.tgenabled: O enabled, D disabled, R replica, A always. */
  enabled: string;
}

export interface FunctionSnapshot {
  /** Name and argument types, e.g. `fdl_create_history_partitions(months_ahead integer)`. */
  name: string;
  definition: string | null;
  grants: string[];
}

export interface RoleSnapshot {
  name: string;
  superuser: boolean;
  bypassRls: boolean;
  canLogin: boolean;
  createRole: boolean;
  createDb: boolean;
  inherit: boolean;
}

export interface SchemaSnapshotOptions {
  /** Default: `'public'`. */
  schema?: string;
  /** Cluster-wide roles to describe. Default: `['fdl_app', 'fdl_system']`. */
  roles?: string[];
  /** Tables left out, with their sequences. Default: {@link BOOKKEEPING_TABLES}. */
  excludeTables?: string[];
}

/** Describes the schema of the database at `url`. */
export async function schemaSnapshot(url: string, options: SchemaSnapshotOptions = {}): Promise<SchemaSnapshot> {
  const schema = options.schema ?? 'public';
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const rows = async <T>(sql: string, parameters: unknown[] = [schema]) => (await client.query(sql, parameters)).rows as T[];
    const [namespace] = await rows<{ oid: number; grants: string[] }>(
      `SELECT n.oid, ${grantsOf('n.nspacl', "'n'", 'n.nspowner')} AS grants FROM pg_namespace n WHERE n.nspname = $1`,
    );
    if (!namespace) throw new Error(`schema ${schema} does not exist`);

    const tables = await rows<TableSnapshot & { oid: number }>(
      `SELECT c.oid, c.relname AS "name", c.relkind::text AS "kind",
              c.relrowsecurity AS "rowSecurity", c.relforcerowsecurity AS "forceRowSecurity",
              CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS "partitionKey",
              (SELECT p.relname FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
                WHERE c.relispartition AND i.inhrelid = c.oid) AS "partitionOf",
              pg_get_expr(c.relpartbound, c.oid) AS "partitionBound",
              ARRAY(SELECT ch.relname FROM pg_inherits i JOIN pg_class ch ON ch.oid = i.inhrelid
                    WHERE i.inhparent = c.oid AND ch.relispartition ORDER BY 1)::text[] AS "partitions",
              ${grantsOf('c.relacl', `(CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END)::"char"`, 'c.relowner')} AS "grants"
       FROM pg_class c
       WHERE c.relnamespace = $1::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
         AND c.relname <> ALL ($2)
         AND NOT EXISTS (
           SELECT FROM pg_depend d JOIN pg_class owner ON owner.oid = d.refobjid
           WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass
             AND d.deptype IN ('a', 'i') AND owner.relname = ANY ($2) AND owner.relnamespace = c.relnamespace)
       ORDER BY c.relname`,
      [schema, options.excludeTables ?? BOOKKEEPING_TABLES],
    );
    const tableOids = tables.map((table) => table.oid);

    const columns = await rows<ColumnSnapshot & { table: number }>(
      `SELECT a.attrelid AS "table", a.attname AS "name", format_type(a.atttypid, a.atttypmod) AS "type",
              a.attnotnull AS "notNull", pg_get_expr(d.adbin, d.adrelid) AS "default",
              nullif(a.attidentity, '')::text AS "identity", nullif(a.attgenerated, '')::text AS "generated",
              ${grantsOf('a.attacl', null, 'c.relowner')} AS "grants"
       FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid
       LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       WHERE a.attrelid = ANY ($1) AND a.attnum > 0 AND NOT a.attisdropped
       ORDER BY a.attrelid, a.attnum`,
      [tableOids],
    );
    const constraints = await rows<NamedDefinition & { table: number }>(
      `SELECT conrelid AS "table", conname AS "name", pg_get_constraintdef(oid) AS "definition"
       FROM pg_constraint WHERE conrelid = ANY ($1) ORDER BY conname, definition`,
      [tableOids],
    );
    const indexes = await rows<NamedDefinition & { table: number }>(
      `SELECT i.indrelid AS "table", c.relname AS "name", pg_get_indexdef(i.indexrelid) AS "definition"
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
       WHERE i.indrelid = ANY ($1) ORDER BY c.relname`,
      [tableOids],
    );
    const policies = await rows<PolicySnapshot & { table: number }>(
      `SELECT p.polrelid AS "table", p.polname AS "name", p.polpermissive AS "permissive",
              CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                            WHEN 'd' THEN 'DELETE' ELSE 'ALL' END AS "command",
              ARRAY(SELECT CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(r)::text END
                    FROM unnest(p.polroles) r ORDER BY 1)::text[] AS "roles",
              pg_get_expr(p.polqual, p.polrelid) AS "using",
              pg_get_expr(p.polwithcheck, p.polrelid) AS "withCheck"
       FROM pg_policy p WHERE p.polrelid = ANY ($1) ORDER BY p.polname`,
      [tableOids],
    );
    const triggers = await rows<TriggerSnapshot & { table: number }>(
      `SELECT tgrelid AS "table", tgname AS "name", pg_get_triggerdef(oid) AS "definition", tgenabled::text AS "enabled"
       FROM pg_trigger WHERE tgrelid = ANY ($1) AND NOT tgisinternal ORDER BY tgname`,
      [tableOids],
    );
    // Functions an extension installed into the schema belong to the extension, not to the schema.
    const functions = await rows<FunctionSnapshot>(
      `SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS "name",
              CASE WHEN p.prokind IN ('f', 'p') THEN pg_get_functiondef(p.oid) END AS "definition",
              ${grantsOf('p.proacl', "'f'", 'p.proowner')} AS "grants"
       FROM pg_proc p
       WHERE p.pronamespace = $1::regnamespace
         AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
       ORDER BY 1`,
    );
    const roles = await rows<RoleSnapshot>(
      `SELECT rolname AS "name", rolsuper AS "superuser", rolbypassrls AS "bypassRls", rolcanlogin AS "canLogin",
              rolcreaterole AS "createRole", rolcreatedb AS "createDb", rolinherit AS "inherit"
       FROM pg_roles WHERE rolname = ANY ($1) ORDER BY rolname`,
      [options.roles ?? ['fdl_app', 'fdl_system']],
    );

    const of = <T extends { table: number }>(list: T[], oid: number) =>
      list.filter((row) => row.table === oid).map(({ table: _table, ...rest }) => rest);
    return {
      schemaGrants: namespace.grants,
      tables: tables.map(({ oid, ...table }) => ({
        ...table,
        columns: of(columns, oid),
        constraints: of(constraints, oid),
        indexes: of(indexes, oid),
        policies: of(policies, oid),
        triggers: of(triggers, oid),
      })),
      functions,
      roles,
    };
  } finally {
    await client.end();
  }
}

/**
 * SQL for a sorted text[] of `grantee: PRIVILEGE` entries of an ACL column. With `defaultKind`, a
 * NULL ACL (never granted or revoked) stands for that object kind's default privileges; without it,
 * NULL means none (column ACLs).
 */
function grantsOf(acl: string, defaultKind: string | null, owner: string): string {
  const effective = defaultKind === null ? acl : `coalesce(${acl}, acldefault(${defaultKind}, ${owner}))`;
  return `ARRAY(
    SELECT CASE WHEN x.grantee = 0 THEN 'PUBLIC' WHEN x.grantee = ${owner} THEN 'OWNER' ELSE pg_get_userbyid(x.grantee)::text END
           || ': ' || x.privilege_type || CASE WHEN x.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END
    FROM aclexplode(${effective}) x ORDER BY 1)::text[]`;
}

import { TENANT_COLUMN } from '../tenancy/tenant-column';
import type { CatalogQuery } from './tenant-isolation-check';

/**
 * A key of a tenant table that spans tenants. PostgreSQL checks unique, exclusion and foreign keys
 * without row level security, over every tenant's rows: with `UNIQUE (number)` a duplicate-key
 * error (23505) tells tenant A that tenant B has invoice number N, and with
 * `FOREIGN KEY (invoice_id) REFERENCES invoices (id)` A's row can point at B's invoice, which B can
 * then no longer delete (23503). With `tenant_id` in the key, on both sides of a foreign key, each
 * tenant's rows are checked only against its own.
 */
export interface CrossTenantKey {
  /** The tenant table that has the key. */
  table: string;
  /** The constraint, or the index of a `CREATE UNIQUE INDEX`. */
  name: string;
  kind: 'primary key' | 'unique constraint' | 'unique index' | 'exclusion constraint' | 'foreign key';
  /** What is wrong with it, e.g. `leaves tenant_id out of its key`. */
  problem: string;
  /** As PostgreSQL prints it: `UNIQUE (number)`, `CREATE UNIQUE INDEX … (lower(code)) WHERE …`. */
  definition: string;
  /** The same key within one tenant, to declare instead: `UNIQUE (tenant_id, number)`. */
  instead: string;
}

/** The table every tenant table references by `tenant_id`, whose own tenant column is `id`. */
const TENANTS_TABLE = 'tenants';

/**
 * Every key of a tenant table (one with a `tenant_id` column) of the `public` schema that spans
 * tenants:
 *
 * - a primary key, unique constraint or unique index without `tenant_id` among its key columns
 *   (`INCLUDE (tenant_id)` does not count: it is not part of what is compared). Partial and
 *   expression indexes are judged the same way: a predicate narrows which rows share the key, not
 *   which tenants; an expression that merely mentions `tenant_id` need not keep tenants apart;
 * - an exclusion constraint that does not compare `tenant_id` with `=`;
 * - a foreign key to a tenant table that does not pair `tenant_id` with the referenced table's
 *   `tenant_id`, or to `tenants` by another column than `tenant_id`. A foreign key to a table
 *   that is no tenant's (a lookup table, without `tenant_id`) may use any key.
 *
 * A partition's copy of its parent's key is reported once, on the parent.
 */
export async function crossTenantKeys(query: CatalogQuery): Promise<CrossTenantKey[]> {
  return [...(await uniqueKeysAcrossTenants(query)), ...(await foreignKeysAcrossTenants(query))];
}

/** `<table>: <kind> <name> <problem> (<definition>)`, a line of the isolation check. */
export function describeCrossTenantKey(key: CrossTenantKey): string {
  return `${key.table}: ${key.kind} ${key.name} ${key.problem} (${key.definition})`;
}

async function uniqueKeysAcrossTenants(query: CatalogQuery): Promise<CrossTenantKey[]> {
  const keys = await query<{ table: string; name: string; kind: CrossTenantKey['kind']; definition: string }>(
    `SELECT t.relname AS table, i.relname AS name,
            CASE con.contype WHEN 'p' THEN 'primary key' WHEN 'u' THEN 'unique constraint' WHEN 'x' THEN 'exclusion constraint'
                             ELSE 'unique index' END AS kind,
            coalesce(pg_get_constraintdef(con.oid), pg_get_indexdef(x.indexrelid)) AS definition
     FROM pg_index x
     JOIN pg_class t ON t.oid = x.indrelid
     JOIN pg_namespace n ON n.oid = t.relnamespace
     JOIN pg_class i ON i.oid = x.indexrelid
     JOIN pg_attribute tenant ON tenant.attrelid = t.oid AND tenant.attname = '${TENANT_COLUMN}' AND NOT tenant.attisdropped
     LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.conrelid = t.oid AND con.contype IN ('p', 'u', 'x')
     WHERE n.nspname = 'public' AND t.relkind IN ('r', 'p') AND (x.indisunique OR x.indisexclusion)
       AND NOT EXISTS (SELECT FROM pg_inherits h WHERE h.inhrelid = x.indexrelid)
       AND NOT (
         -- the key columns only: INCLUDE columns follow them and take no part in the comparison
         tenant.attnum = ANY ((x.indkey::int2[])[0:x.indnkeyatts - 1])
         AND (NOT x.indisexclusion OR EXISTS (
           SELECT FROM unnest(con.conkey, con.conexclop) AS k (attnum, operator) JOIN pg_operator o ON o.oid = k.operator
           WHERE k.attnum = tenant.attnum AND o.oprname = '=')))
     ORDER BY t.relname, i.relname`,
  );
  return keys.map((key) => ({
    ...key,
    problem: key.kind === 'exclusion constraint' ? `does not compare ${TENANT_COLUMN} with =` : `leaves ${TENANT_COLUMN} out of its key`,
    instead: withinTenant(key.kind, key.definition),
  }));
}

/** The key with `tenant_id` first: `UNIQUE (tenant_id, number)`, `… USING btree (tenant_id, lower(code)) …`. */
function withinTenant(kind: CrossTenantKey['kind'], definition: string): string {
  if (kind === 'unique index') return definition.replace(/ USING (\w+) \(/, ` USING $1 (${TENANT_COLUMN}, `);
  if (kind === 'exclusion constraint') return definition.replace('(', `(${TENANT_COLUMN} WITH =, `);
  return definition.replace('(', `(${TENANT_COLUMN}, `);
}

async function foreignKeysAcrossTenants(query: CatalogQuery): Promise<CrossTenantKey[]> {
  const keys = await query<{ table: string; name: string; referenced: string; toTenants: boolean; definition: string; columns: string[]; referencedColumns: string[] }>(
    `SELECT t.relname AS table, con.conname AS name, con.confrelid::regclass::text AS referenced,
            con.confrelid = to_regclass('public.${TENANTS_TABLE}') AS "toTenants", pg_get_constraintdef(con.oid) AS definition,
            ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY AS k (attnum, position)
                  JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.position) AS columns,
            ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY AS k (attnum, position)
                  JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.position) AS "referencedColumns"
     FROM pg_constraint con
     JOIN pg_class t ON t.oid = con.conrelid
     JOIN pg_namespace n ON n.oid = t.relnamespace
     -- conparentid: a partition's copy of its parent's key, or the parent's key toward each partition it references
     WHERE con.contype = 'f' AND con.conparentid = 0 AND n.nspname = 'public' AND t.relkind IN ('r', 'p')
       AND EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = t.oid AND a.attname = '${TENANT_COLUMN}' AND NOT a.attisdropped)
       -- a table that is no tenant's (no tenant_id: a lookup table) holds nothing of another tenant to point at
       AND (con.confrelid = to_regclass('public.${TENANTS_TABLE}')
            OR EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = con.confrelid AND a.attname = '${TENANT_COLUMN}' AND NOT a.attisdropped))
     ORDER BY t.relname, con.conname`,
  );
  const found: CrossTenantKey[] = [];
  for (const key of keys) {
    const referencedTenantColumn = key.toTenants ? 'id' : TENANT_COLUMN;
    const pairsTenants = key.columns.some((column, i) => column === TENANT_COLUMN && key.referencedColumns[i] === referencedTenantColumn);
    if (pairsTenants) continue;
    // The pairs other than the tenant's, after the tenant's own pair.
    const others = key.columns
      .map((column, i) => [column, key.referencedColumns[i]])
      .filter(([column, referenced]) => column !== TENANT_COLUMN && referenced !== referencedTenantColumn);
    const columns = [TENANT_COLUMN, ...others.map(([column]) => column)].join(', ');
    const referencedColumns = [referencedTenantColumn, ...others.map(([, referenced]) => referenced)].join(', ');
    found.push({
      table: key.table,
      name: key.name,
      kind: 'foreign key',
      problem: key.toTenants
        ? `references ${key.referenced} by another column than ${TENANT_COLUMN}`
        : `references ${key.referenced} without ${TENANT_COLUMN} on both sides`,
      definition: key.definition,
      instead: `FOREIGN KEY (${columns}) REFERENCES ${key.referenced} (${referencedColumns})`,
    });
  }
  return found;
}

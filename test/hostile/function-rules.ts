import type { Client } from 'pg';

/**
 * The rules every function of the schema follows, read from the catalog. They close a class of
 * privilege escalation, not one instance: a SECURITY DEFINER function runs with its owner's rights,
 * and PostgreSQL searches the caller's temporary schema FIRST for relation names unless the
 * function's search_path lists `pg_temp` (last); a caller's temporary table named like a catalog
 * table then decides what the owner does.
 */
export async function functionViolations(client: Client): Promise<string[]> {
  const violations: string[] = [];
  const functions = (
    await client.query<{
      name: string;
      definer: boolean;
      config: string[] | null;
      publicExecute: boolean;
      ownerIsSuperuser: boolean;
      appExecute: boolean;
    }>(
      `SELECT p.oid::regprocedure::text AS name, p.prosecdef AS definer, p.proconfig AS config,
              has_function_privilege('public', p.oid, 'EXECUTE') AS "publicExecute",
              o.rolsuper AS "ownerIsSuperuser",
              has_function_privilege('fdl_app', p.oid, 'EXECUTE') AS "appExecute"
       FROM pg_proc p
       JOIN pg_namespace n ON n.oid = p.pronamespace
       JOIN pg_roles o ON o.oid = p.proowner
       WHERE n.nspname = 'public'
         AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')`,
    )
  ).rows;
  for (const fn of functions) {
    const searchPath = fn.config?.find((setting) => setting.startsWith('search_path='));
    const kind = fn.definer ? 'SECURITY DEFINER' : 'function';
    if (!searchPath) {
      violations.push(`${kind} ${fn.name} has no fixed search_path`);
    } else if (!/(^|[=,\s])pg_temp"?$/.test(searchPath)) {
      violations.push(`${kind} ${fn.name}: search_path does not list pg_temp last (${searchPath})`);
    }
    if (fn.publicExecute) violations.push(`${kind} ${fn.name} is executable by PUBLIC`);
    if (fn.ownerIsSuperuser && fn.appExecute) violations.push(`${kind} ${fn.name} is owned by a superuser and executable by fdl_app`);
  }
  return violations;
}

/**
 * Every foreign key has an index that finds the referencing rows by its columns: without one, a
 * cascaded delete (or a check when a referenced key changes) filters the child table row by row.
 */
export async function foreignKeyViolations(client: Client): Promise<string[]> {
  const unindexed = (
    await client.query<{ name: string; table: string }>(
      `SELECT con.conname AS name, con.conrelid::regclass::text AS table
       FROM pg_constraint con
       JOIN pg_namespace n ON n.oid = con.connamespace
       WHERE con.contype = 'f' AND n.nspname = 'public' AND con.conparentid = 0
         AND NOT EXISTS (
           SELECT FROM pg_index i
           WHERE i.indrelid = con.conrelid
             -- leading columns are exactly the key's columns, or a unique index within them
             AND (
               (SELECT array_agg(k ORDER BY k) FROM unnest((i.indkey::int2[])[0:cardinality(con.conkey) - 1]) k)
                 = (SELECT array_agg(k ORDER BY k) FROM unnest(con.conkey) k)
               OR (i.indisunique AND (i.indkey::int2[]) <@ con.conkey)
             )
         )`,
    )
  ).rows;
  return unindexed.map((fk) => `foreign key ${fk.name} on ${fk.table} has no index on its columns`);
}

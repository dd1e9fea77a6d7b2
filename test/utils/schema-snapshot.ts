import { Client } from 'pg';

const BOOKKEEPING = `('migrations', 'migrations_id_seq', '_sqlx_migrations', 'typeorm_metadata')`;

/**
 * A sorted, deterministic description of the public schema: what two ways of creating it must
 * agree on. The migration bookkeeping tables are left out.
 */
export async function schemaSnapshot(url: string): Promise<Record<string, unknown[]>> {
  const client = new Client({ connectionString: url });
  await client.connect();
  const rows = async (sql: string) => (await client.query(sql)).rows;
  try {
    return {
      tables: await rows(`
        SELECT c.relname, c.relkind::text, c.relrowsecurity, c.relforcerowsecurity,
               CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key,
               pg_get_expr(c.relpartbound, c.oid) AS partition_bound
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S') AND c.relname NOT IN ${BOOKKEEPING}
        ORDER BY 1`),
      columns: await rows(`
        SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid) AS default_value
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE n.nspname = 'public' AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v')
          AND c.relname NOT IN ${BOOKKEEPING}
        ORDER BY 1, 2`),
      constraints: await rows(`
        SELECT c.relname, k.conname, pg_get_constraintdef(k.oid) AS definition
        FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relname NOT IN ${BOOKKEEPING}
        ORDER BY 1, 2`),
      indexes: await rows(`
        SELECT tablename, indexname, indexdef FROM pg_indexes
        WHERE schemaname = 'public' AND tablename NOT IN ${BOOKKEEPING} ORDER BY 1, 2`),
      policies: await rows(`
        SELECT tablename, policyname, permissive, roles::text[] AS roles, cmd, qual, with_check
        FROM pg_policies WHERE schemaname = 'public' ORDER BY 1, 2`),
      grants: await rows(`
        SELECT table_name, grantee, privilege_type FROM information_schema.role_table_grants
        WHERE table_schema = 'public' AND grantee IN ('fdl_app', 'fdl_system', 'PUBLIC')
          AND table_name NOT IN ${BOOKKEEPING}
        ORDER BY 1, 2, 3`),
      triggers: await rows(`
        SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid) AS definition, t.tgenabled
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND NOT t.tgisinternal ORDER BY 1, 2`),
      functions: await rows(`
        -- Leading whitespace of body lines is dropped: the SQL files are dedented from the TypeScript
        -- source, and a function body is stored exactly as written.
        SELECT p.proname, pg_get_function_identity_arguments(p.oid) AS arguments,
               regexp_replace(pg_get_functiondef(p.oid), '\n[ \t]+', E'\n', 'g') AS definition,
               p.prosecdef, coalesce(p.proacl::text[], ARRAY[]::text[]) AS acl
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' ORDER BY 1, 2`),
      roles: await rows(`
        SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolbypassrls
        FROM pg_roles WHERE rolname IN ('fdl_app', 'fdl_system') ORDER BY 1`),
      schemaGrants: await rows(`
        SELECT r.rolname, has_schema_privilege(r.oid, 'public', 'USAGE') AS usage
        FROM pg_roles r WHERE r.rolname IN ('fdl_app', 'fdl_system') ORDER BY 1`),
    };
  } finally {
    await client.end();
  }
}

import { Logger } from '@nestjs/common';
import { DatabaseConfigError } from '../config/database-config.error';

const LAYOUT = 'sql/least-privilege-logins.sql; docs/security-model.md, "Least privilege"';

/**
 * Migrations must run as the schema's owner. Says so before anything is attempted when the login
 * is another one (the runtime's, typically: it owns nothing and may create nothing), and warns when
 * it is a superuser: the tables and the SECURITY DEFINER functions would then belong to one.
 */
/** Anything that runs a query: a DataSource, or the query runner that holds the migration lock. */
interface Queryable {
  query(sql: string): Promise<any[]>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export async function assertMigrationRole(connection: Queryable): Promise<void> {
  const [login] = await connection.query(
    `SELECT current_user AS name,
            (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) AS superuser,
            (SELECT pg_catalog.pg_get_userbyid(c.relowner) FROM pg_catalog.pg_class c
              WHERE c.oid = to_regclass('public.tenants')) AS owner,
            (SELECT pg_has_role(current_user, c.relowner, 'USAGE') FROM pg_catalog.pg_class c
              WHERE c.oid = to_regclass('public.tenants')) AS "actsAsOwner",
            has_schema_privilege(current_user, 'public', 'CREATE') AS "mayCreate"`,
  );
  if (login.superuser) {
    if (login.owner === null || login.owner === login.name) {
      new Logger('Migrations').warn(
        `migrations run as "${login.name}", a superuser: the tables and the SECURITY DEFINER partition functions ` +
          `belong to a superuser. In production, run them as an owner role that is not one (${LAYOUT})`,
      );
    }
    return;
  }
  if (login.owner !== null && !login.actsAsOwner) {
    throw new DatabaseConfigError(
      `migrations must run as the schema's owner: "${login.owner}" owns its tables, but the migration logs in as "${login.name}". ` +
        `Run them with the owner's URL (${LAYOUT})`,
    );
  }
  if (login.owner === null && !login.mayCreate) {
    throw new DatabaseConfigError(
      `"${login.name}" may not create tables in schema public: migrations must run as the schema's owner (${LAYOUT})`,
    );
  }
}

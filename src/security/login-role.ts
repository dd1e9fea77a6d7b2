import type { DataSource } from 'typeorm';
import { DATABASE_TABLES } from '../entities';

/** What the connected login may do, as far as tenant isolation is concerned. */
export interface LoginRole {
  name: string;
  superuser: boolean;
  bypassRls: boolean;
  /** Tables of the schema it owns. */
  owns: string[];
  /** Tables of the schema it may read without switching role (own grants, or inherited ones). */
  readsDirectly: string[];
  canBecomeApp: boolean;
  canBecomeSystem: boolean;
  /** Session defaults set for it, or for fdl_app/fdl_system, here (`ALTER ROLE … SET`), as `role: name=value`. */
  sessionDefaults: string[];
}

export async function inspectLoginRole(dataSource: DataSource): Promise<LoginRole> {
  const [row] = await dataSource.query(
    `SELECT r.rolname AS name, r.rolsuper AS superuser, r.rolbypassrls AS "bypassRls",
            ARRAY(SELECT t FROM unnest($1::text[]) t
                  JOIN pg_catalog.pg_class c ON c.oid = to_regclass('public.' || t)
                  WHERE c.relowner = r.oid) AS owns,
            ARRAY(SELECT t FROM unnest($1::text[]) t
                  WHERE to_regclass('public.' || t) IS NOT NULL
                    AND has_table_privilege(r.oid, to_regclass('public.' || t), 'SELECT')) AS "readsDirectly",
            pg_has_role(r.oid, 'fdl_app', 'MEMBER') AS "canBecomeApp",
            pg_has_role(r.oid, 'fdl_system', 'MEMBER') AS "canBecomeSystem",
            ARRAY(SELECT sr.rolname || ': ' || setting
                  FROM pg_catalog.pg_db_role_setting s
                  JOIN pg_catalog.pg_roles sr ON sr.oid = s.setrole
                  CROSS JOIN LATERAL unnest(s.setconfig) setting
                  WHERE sr.rolname IN (r.rolname, 'fdl_app', 'fdl_system')
                    AND s.setdatabase IN (0, (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = current_database()))
                  ORDER BY 1) AS "sessionDefaults"
     FROM pg_catalog.pg_roles r
     WHERE r.rolname = current_user`,
    [DATABASE_TABLES],
  );
  return row as LoginRole;
}

/** What a login is for: tenant requests, the system path, or both (one login for everything). */
export type LoginPurpose = 'tenant' | 'system' | 'both';

/** The findings about a login: `errors` make the module refuse to start, `warnings` name a risk. */
export interface LoginRoleFindings {
  errors: string[];
  warnings: string[];
}

const ADVICE = 'log in as a role that owns nothing and has no privileges of its own (sql/least-privilege-logins.sql; docs/security-model.md, "Least privilege")';

/**
 * Judges a login against the production layout: the runtime's logins own nothing, hold no table
 * privileges of their own, and may only switch to the role(s) they serve. Anything more is what a
 * query sent outside a tenant transaction (an injected DataSource or QueryRunner) runs with.
 */
export function judgeLoginRole(role: LoginRole, purpose: LoginPurpose, variable: string): LoginRoleFindings {
  const errors: string[] = [];
  const warnings: string[] = [];
  const login = `${variable} logs in as "${role.name}"`;
  if (purpose !== 'system' && !role.canBecomeApp) {
    errors.push(`${login}, which cannot SET ROLE fdl_app: every tenant request would fail. Grant it: GRANT fdl_app TO "${role.name}"`);
  }
  if (purpose !== 'tenant' && !role.canBecomeSystem) {
    errors.push(`${login}, which cannot SET ROLE fdl_system: the system path would fail. Grant it: GRANT fdl_system TO "${role.name}"`);
  }
  if (role.superuser) {
    warnings.push(`${login}, a superuser: a query sent outside a tenant transaction bypasses row level security and reads every tenant's rows. In production, ${ADVICE}`);
  } else {
    if (role.bypassRls) warnings.push(`${login}, which has BYPASSRLS: a query sent outside a tenant transaction reads every tenant's rows. In production, ${ADVICE}`);
    if (role.owns.length) warnings.push(`${login}, which owns ${role.owns.join(', ')}: SQL sent as it can disable their row level security or drop their policies. In production, ${ADVICE}`);
    const readable = role.readsDirectly.filter((table) => !role.owns.includes(table));
    if (readable.length && !role.bypassRls) {
      warnings.push(
        `${login}, which may read ${readable.join(', ')} without switching role (its own grants, or inherited from fdl_app/fdl_system): ` +
          `a query sent outside a tenant transaction is not refused${role.canBecomeSystem ? ', and as fdl_system it reads every tenant\'s rows' : ''}. ` +
          `Make it NOINHERIT: ALTER ROLE "${role.name}" NOINHERIT`,
      );
    }
  }
  if (role.sessionDefaults.length) {
    warnings.push(
      `${login}; session defaults are set for it or its roles (${role.sessionDefaults.join('; ')}). A role may set its own (ALTER ROLE … SET, also from ` +
        'SQL injected into a transaction); the module pins what isolation depends on in every transaction, but not, for example, DateStyle or ' +
        `synchronous_commit. If you did not set them, reset them: ALTER ROLE "${role.name}" RESET ALL (SECURITY.md, "Session state")`,
    );
  }
  if (purpose === 'tenant' && role.canBecomeSystem && !role.superuser) {
    warnings.push(`${login}, which can still become fdl_system although the system path has a login of its own: SQL sent in a tenant transaction could switch to it. Revoke it: REVOKE fdl_system FROM "${role.name}"`);
  }
  return { errors, warnings };
}

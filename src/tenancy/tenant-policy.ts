import { TENANT_COLUMN } from './tenant-column';

/** The setting the tenant transaction's prelude sets, transaction-local. */
export const CURRENT_TENANT_SETTING = 'app.current_tenant_id';
/** The transaction setting that names who acts: the audit chain's trigger records it (migration 012). */
export const CURRENT_ACTOR_SETTING = 'app.current_actor';

/**
 * The tenant a statement runs for, as SQL: the transaction-local `app.current_tenant_id`, or NULL.
 *
 * Fail closed: NULLIF turns both "never set" (NULL) and "set in an earlier transaction on this
 * connection" ('') into NULL, which matches no row. Compared directly, not through a sub-select:
 * Citus refuses sub-queries in the policies of distributed tables, and on a single node PostgreSQL
 * evaluates this stable expression once per scan when it is an index condition (docs/performance.md
 * has the figures of both forms).
 */
export const CURRENT_TENANT_SQL = `NULLIF(current_setting('${CURRENT_TENANT_SETTING}', true), '')::uuid`;

/**
 * `<column> = <the current tenant>`: the USING and WITH CHECK of every tenant isolation policy, the
 * schema's own and those `tenantTable()` makes, on one node and on Citus alike.
 */
export function tenantPolicyExpression(column: string = TENANT_COLUMN): string {
  return `${column} = ${CURRENT_TENANT_SQL}`;
}

/**
 * The system's own audit chain is kept under this reserved tenant id: a table distributed by
 * `tenant_id` cannot hold NULL there, and no tenant can ever have it (`CHK_tenants_id`).
 */
export const SYSTEM_TENANT_ID = '00000000-0000-0000-0000-000000000000';

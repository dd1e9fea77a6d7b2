/**
 * The tenant a statement runs for, as SQL: the transaction-local `app.current_tenant_id`, or NULL.
 *
 * Fail closed: NULLIF turns both "never set" (NULL) and "set in an earlier transaction on this
 * connection" ('') into NULL, which matches no row. Compared directly, not through a sub-select:
 * Citus refuses sub-queries in the policies of distributed tables, and on a single node PostgreSQL
 * already evaluates this stable expression once per scan when it is an index condition (the same
 * plans and figures as the sub-select form: README "Performance").
 */
export const CURRENT_TENANT_SQL = `NULLIF(current_setting('app.current_tenant_id', true), '')::uuid`;

/** `<column> = <the current tenant>`: the USING and WITH CHECK of every tenant policy. */
export function tenantPolicyExpression(column = 'tenant_id'): string {
  return `${column} = ${CURRENT_TENANT_SQL}`;
}

/**
 * The system's own audit chain is kept under this reserved tenant id: a table distributed by
 * `tenant_id` cannot hold NULL there, and no tenant can ever have it (`CHK_tenants_id`).
 */
export const SYSTEM_TENANT_ID = '00000000-0000-0000-0000-000000000000';

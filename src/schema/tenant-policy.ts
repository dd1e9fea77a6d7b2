import { TENANT_COLUMN } from '../tenancy/tenant-column';

/** The setting the tenant transaction's prelude sets (`set_config('app.current_tenant_id', …, true)`). */
export const CURRENT_TENANT_SETTING = 'app.current_tenant_id';

/**
 * The condition of every tenant isolation policy: the row's tenant is the transaction's.
 *
 * Fail closed: NULLIF turns both "never set" (NULL) and "set in an earlier transaction on this
 * connection" ('') into NULL, which matches no row. The sub-select makes it an InitPlan, evaluated
 * once per statement instead of once per row.
 *
 * The one definition `tenantTable()` uses, so that the form chosen for Citus (which refuses a
 * sub-select in a policy on a distributed table) is changed here, once.
 */
export function tenantPolicyExpression(column: string = TENANT_COLUMN): string {
  return `${column} = (SELECT NULLIF(current_setting('${CURRENT_TENANT_SETTING}', true), '')::uuid)`;
}

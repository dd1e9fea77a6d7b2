import type { DatabaseScope, TransactionTimeouts } from './database-scope';
import type { PipelinedStatement } from './pipelined-query';
import { parseTenantId } from './tenant-id';

/**
 * How a scoped transaction begins: on one PostgreSQL node, or on the coordinator of a Citus cluster.
 * The one place where the two differ (chosen at start by ClusterTopology).
 */
export type PreludeForm = 'single-node' | 'citus';

/**
 * The statements sent before a scoped transaction's first query, in the same round trip.
 *
 * Single node: the role, the tenant and the timeouts in one `set_config(…, true)` statement (i.e.
 * SET LOCAL), every value a bind parameter.
 *
 * Citus: the coordinator does not send `set_config()` to the workers, where the shards and their
 * RLS policies are: a tenant would read nothing there. Citus propagates the SET statement, with
 * `citus.propagate_set_commands = 'local'`, to the worker transactions it opens afterwards. The
 * role needs no propagation: Citus connects to the workers as the current role.
 */
export function preludeStatements(form: PreludeForm, scope: DatabaseScope, timeouts: TransactionTimeouts): PipelinedStatement[] {
  if (scope.kind === 'system') return [BEGIN, settings('fdl_system', undefined, timeouts)];
  if (form === 'citus') {
    return [
      BEGIN,
      settings('fdl_app', undefined, timeouts),
      PROPAGATE_SET_LOCALLY,
      { text: tenantSetStatement(scope.tenantId), varies: true, discardRows: true },
      REQUIRE_ACTIVE_TENANT,
    ];
  }
  return [BEGIN, settings('fdl_app', scope.tenantId, timeouts), REQUIRE_ACTIVE_TENANT];
}

// The prelude's results are never read: an error is all that matters of them.
const BEGIN: PipelinedStatement = { text: 'BEGIN', discardRows: true };
const PROPAGATE_SET_LOCALLY: PipelinedStatement = { text: `SET LOCAL citus.propagate_set_commands = 'local'`, discardRows: true };
const REQUIRE_ACTIVE_TENANT: PipelinedStatement = { text: 'SELECT fdl_require_active_tenant()', discardRows: true };

/**
 * One `SELECT set_config(…, true), …`: the role, the tenant when given, and the timeouts, every value
 * a bind parameter. set_config('role', …, true) is SET LOCAL ROLE in a form that shares one statement
 * with the other settings. LOCAL everywhere: it ends with the transaction, so nothing survives on
 * the pooled connection, and it works through PgBouncer in transaction mode.
 */
function settings(role: Role, tenantId: string | undefined, timeouts: TransactionTimeouts): PipelinedStatement {
  const timeoutValues = [String(Math.round(timeouts.statementMs)), String(Math.round(timeouts.idleInTransactionMs))];
  return tenantId === undefined
    ? { text: SETTINGS_TEXTS[role].withoutTenant, values: timeoutValues, discardRows: true }
    : { text: SETTINGS_TEXTS[role].withTenant, values: [tenantId, ...timeoutValues], discardRows: true };
}

type Role = 'fdl_app' | 'fdl_system';

// The text depends only on the role and on whether the tenant is set: built once, not per
// transaction (it is also the key its prepared statement is found by).
function settingsText(role: Role, withTenant: boolean): string {
  const names = [...(withTenant ? ['app.current_tenant_id'] : []), 'statement_timeout', 'idle_in_transaction_session_timeout'];
  return `SELECT set_config('role', '${role}', true), ${names.map((name, i) => `set_config('${name}', $${i + 1}, true)`).join(', ')}`;
}

const SETTINGS_TEXTS: Record<Role, { withTenant: string; withoutTenant: string }> = {
  fdl_app: { withTenant: settingsText('fdl_app', true), withoutTenant: settingsText('fdl_app', false) },
  fdl_system: { withTenant: settingsText('fdl_system', true), withoutTenant: settingsText('fdl_system', false) },
};

/**
 * `SET LOCAL app.current_tenant_id = '…'`. SET takes no bind parameters, so the tenant id is written
 * into the statement: only ever as parseTenantId's canonical UUID (hex digits and hyphens, checked
 * again here whatever the caller did), which cannot close the quote or carry anything but a UUID.
 */
export function tenantSetStatement(tenantId: string): string {
  return `SET LOCAL app.current_tenant_id = '${parseTenantId(tenantId)}'`;
}

import type { DatabaseScope, TransactionTimeouts } from '../tenancy/database-scope';
import type { PipelinedStatement } from '../connection/pipelined-query';
import { parseTenantId } from '../tenancy/tenant-id';
import { actorSetStatement } from '../tenancy/actor';
import type { PreludeForm } from '../cluster/cluster-topology';
import { CURRENT_ACTOR_SETTING, CURRENT_TENANT_SETTING } from '../tenancy/tenant-policy';

// How a scoped transaction begins differs between one PostgreSQL node and the coordinator of a Citus
// cluster (PreludeForm, chosen at start by ClusterTopology): this file is the one place where they do.

/**
 * The statements sent before a scoped transaction's first query, in the same round trip.
 *
 * Where the connection may hold state of SQL the module did not write (session-guard.ts decides),
 * the prelude is guarded. First, unnamed (parsed every time, so that nothing left on the connection
 * can stand in for them): BEGIN, the role switch, and the session guard (`fdl_assert_clean_session()`),
 * which raises when an earlier transaction left session state behind: the server then skips everything after it, and the
 * transaction runs on a fresh connection (scoped-transaction.ts). Only after the guard may prepared
 * statements be bound: it has just seen that none was made with SQL's PREPARE, so each name is still
 * the module's own statement. Then `RESET ALL` (session settings an earlier transaction committed are
 * gone) and, in one `set_config(…, true)` statement (SET LOCAL), the tenant, the timeouts and the
 * settings whose value decides what the transaction's SQL means, every value a bind parameter.
 *
 * Otherwise it is BEGIN and the settings (role, tenant, timeouts) only, all prepared: no SQL but the
 * module's own has run on that session, so it holds no statement, relation or setting of anyone else's.
 *
 * BEGIN names its isolation level and READ WRITE: neither a session nor a role default
 * (`ALTER ROLE … SET default_transaction_read_only`) decides them.
 *
 * The actor (who acts: a user id, a service name) is a setting of the transaction too: the audit
 * chain's trigger records it, so an INSERT cannot name another (migration 012).
 *
 * Citus: the coordinator does not send `set_config()` to the workers, where the shards, their RLS
 * policies and the audit trigger are: a tenant would read nothing there. Citus propagates SET
 * statements, with `citus.propagate_set_commands = 'local'`, to the worker transactions it opens
 * afterwards: the tenant and, when one is given, the actor go as SET LOCAL. The role needs no
 * propagation: Citus connects to the workers as the current role.
 */
export function preludeStatements(
  form: PreludeForm,
  scope: DatabaseScope,
  timeouts: TransactionTimeouts,
  guarded = true,
  actor?: string,
): PipelinedStatement[] {
  const role: Role = scope.kind === 'system' ? 'fdl_system' : 'fdl_app';
  const head = guarded ? [BEGIN_UNNAMED, ROLE[role], ASSERT_CLEAN_SESSION, RESET_ALL] : [BEGIN];
  const tenantId = scope.kind === 'tenant' ? scope.tenantId : undefined;
  if (form === 'single-node') {
    const set = settings(role, tenantId, actor, timeouts, guarded);
    return tenantId === undefined ? [...head, set] : [...head, set, REQUIRE_ACTIVE_TENANT];
  }
  const propagated: PipelinedStatement[] = [
    ...(tenantId === undefined ? [] : [{ text: tenantSetStatement(tenantId), unnamed: true, discardRows: true }]),
    ...(actor === undefined ? [] : [{ text: actorSetStatement(actor), unnamed: true, discardRows: true }]),
  ];
  return [
    ...head,
    settings(role, undefined, actor, timeouts, guarded),
    ...(propagated.length === 0 ? [] : [PROPAGATE_SET_LOCALLY, ...propagated]),
    ...(tenantId === undefined ? [] : [REQUIRE_ACTIVE_TENANT]),
  ];
}

// The prelude's results are never read: an error is all that matters of them.
const BEGIN_TEXT = 'BEGIN ISOLATION LEVEL READ COMMITTED, READ WRITE';
const BEGIN: PipelinedStatement = { text: BEGIN_TEXT, discardRows: true };
const BEGIN_UNNAMED: PipelinedStatement = { text: BEGIN_TEXT, unnamed: true, discardRows: true };
const ROLE: Record<Role, PipelinedStatement> = {
  fdl_app: { text: 'SET LOCAL ROLE fdl_app', unnamed: true, discardRows: true },
  fdl_system: { text: 'SET LOCAL ROLE fdl_system', unnamed: true, discardRows: true },
};
const ASSERT_CLEAN_SESSION: PipelinedStatement = { text: 'SELECT public.fdl_assert_clean_session()', unnamed: true, discardRows: true };
const RESET_ALL: PipelinedStatement = { text: 'RESET ALL', discardRows: true };
const PROPAGATE_SET_LOCALLY: PipelinedStatement = { text: `SET LOCAL citus.propagate_set_commands = 'local'`, discardRows: true };
const REQUIRE_ACTIVE_TENANT: PipelinedStatement = { text: 'SELECT public.fdl_require_active_tenant()', discardRows: true };

type Role = 'fdl_app' | 'fdl_system';

/**
 * Pinned for a guarded transaction whatever a session or role default says. `search_path`: the
 * schema's tables and types are found in `public` before any temporary relation of the session
 * (PostgreSQL searches `pg_temp` first unless it is listed). `row_security = off` would make every
 * policy-filtered query fail instead of filtering it. On a connection vouched for there is no
 * temporary relation and no session setting: the pins would only cost time there.
 */
const PINNED_SETTINGS = `pg_catalog.set_config('search_path', '"$user", public, pg_temp', true), pg_catalog.set_config('row_security', 'on', true)`;

/**
 * One `SELECT set_config(…, true), …`: the role (again, where the guarded head switched already),
 * the tenant when given, the actor, the timeouts and, in a guarded prelude, the pinned settings.
 * `set_config('role', …, true)` is SET LOCAL ROLE in a form that shares one statement with the rest.
 * LOCAL everywhere: it ends with the transaction, so nothing survives on the pooled connection, and it
 * works through PgBouncer in transaction mode.
 */
function settings(role: Role, tenantId: string | undefined, actor: string | undefined, timeouts: TransactionTimeouts, pinned: boolean): PipelinedStatement {
  // '' for no actor: the trigger then records 'unknown' (or 'system' on the system chain).
  const values = [actor ?? '', String(Math.round(timeouts.statementMs)), String(Math.round(timeouts.idleInTransactionMs))];
  const texts = SETTINGS_TEXTS[`${role}${pinned ? '+pinned' : ''}`];
  return tenantId === undefined
    ? { text: texts.withoutTenant, values, discardRows: true }
    : { text: texts.withTenant, values: [tenantId, ...values], discardRows: true };
}

// The text depends only on the role, on whether the tenant is set and on the pins: built once, not
// per transaction (it is also the key its prepared statement is found by).
function settingsText(role: Role, withTenant: boolean, pinned: boolean): string {
  const names = [...(withTenant ? [CURRENT_TENANT_SETTING] : []), CURRENT_ACTOR_SETTING, 'statement_timeout', 'idle_in_transaction_session_timeout'];
  const values = names.map((name, i) => `pg_catalog.set_config('${name}', $${i + 1}, true)`);
  return `SELECT pg_catalog.set_config('role', '${role}', true), ${values.join(', ')}${pinned ? `, ${PINNED_SETTINGS}` : ''}`;
}

const texts = (role: Role, pinned: boolean) => ({ withTenant: settingsText(role, true, pinned), withoutTenant: settingsText(role, false, pinned) });
const SETTINGS_TEXTS: Record<`${Role}${'' | '+pinned'}`, { withTenant: string; withoutTenant: string }> = {
  fdl_app: texts('fdl_app', false),
  'fdl_app+pinned': texts('fdl_app', true),
  fdl_system: texts('fdl_system', false),
  'fdl_system+pinned': texts('fdl_system', true),
};

/**
 * `SET LOCAL app.current_tenant_id = '…'`. SET takes no bind parameters, so the tenant id is written
 * into the statement: only ever as parseTenantId's canonical UUID (hex digits and hyphens, checked
 * again here whatever the caller did), which cannot close the quote or carry anything but a UUID.
 */
export function tenantSetStatement(tenantId: string): string {
  return `SET LOCAL ${CURRENT_TENANT_SETTING} = '${parseTenantId(tenantId)}'`;
}

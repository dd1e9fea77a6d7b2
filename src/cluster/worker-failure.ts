/** What node-postgres reports of a server error; Citus relays a worker's error through these fields. */
interface ServerError {
  code?: string;
  message?: string;
  /** CONTEXT: Citus adds "while executing command on <host>:<port>" to every error relayed from a worker. */
  where?: string;
}

/** The coordinator could not open or keep its connection to a worker (Citus ReportConnectionError, 08006). */
const WORKER_UNREACHABLE = [/^connection to the remote node \S+ failed/, /^could not establish any connections to the node /];

/**
 * A worker answered but refused the login of the role the transaction runs as: the cluster's roles
 * are not set up as docs/citus.md says (LOGIN, the password in pg_dist_authinfo,
 * pg_hba.conf). Not an outage: it stays so until an operator fixes it.
 */
const WORKER_LOGIN_REFUSED = /is not permitted to log in|password authentication failed|no password supplied|no pg_hba\.conf entry/;

/**
 * The coordinator's own commit went through but a worker's did not answer: Citus raises this (XX000)
 * after the fact, so the worker may or may not have applied its part.
 */
const WORKER_COMMIT_FAILED = /^could not commit transaction for shard \d+ on at least one active node/;

/** A worker ending its sessions (shutdown, crash, start-up), relayed by the coordinator. */
const WORKER_SHUTTING_DOWN = new Set(['57P01', '57P02', '57P03']);

/**
 * Why a worker of a Citus cluster could not do its part of the statement, or undefined when `error`
 * is not about a worker. The coordinator itself is up (it answered), so "the server cannot be
 * reached" would mislead the operator; only the tenants whose shards are on that worker are
 * affected. The worker's address stays in the original error (the cause), not in the reason, which
 * is shown to clients.
 */
export function workerFailureReason(error: ServerError): string | undefined {
  const message = error.message ?? '';
  if (error.code === '08006' && WORKER_UNREACHABLE.some((pattern) => pattern.test(message))) {
    return WORKER_LOGIN_REFUSED.test(message)
      ? "a worker node of the Citus cluster refused the login of the transaction's role (the cluster's roles need LOGIN and credentials there)"
      : 'a worker node of the Citus cluster holding this data cannot be reached';
  }
  if (WORKER_COMMIT_FAILED.test(message)) {
    return 'a worker node of the Citus cluster failed while the transaction committed: its writes there may or may not have been saved';
  }
  if (error.code && WORKER_SHUTTING_DOWN.has(error.code) && /while executing command on /.test(error.where ?? '')) {
    return 'a worker node of the Citus cluster holding this data is shutting down or restarting';
  }
  return undefined;
}

import { transientFailureReason } from './transient-failure';
import { workerFailureReason } from './worker-failure';
import { DatabaseUnavailableError } from '../tenancy/tenancy.errors';

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down)
  '53300', // too_many_connections
  '25P03', // idle_in_transaction_session_timeout ended the session
  '08000', // connection_exception
  '08001', // sqlclient_unable_to_establish_sqlconnection
  '08003', // connection_does_not_exist
  '08006', // connection_failure
]);

const UNAVAILABLE_MESSAGES = [
  /timeout exceeded when trying to connect/i, // pg-pool: no free connection within the wait bound
  /Connection terminated/i,
  /Client has encountered a connection error/i,
];

/** When a transaction the server asked to run again may be tried again, in seconds: at once, in effect. */
const RUN_AGAIN_AFTER_SECONDS = 1;

/**
 * Recognises failures that mean "the database cannot serve this now" (pool exhausted, server down or
 * restarting, a Citus worker down, a transaction the server asks to run again), as opposed to errors
 * in the statement itself. Returns the error to throw instead, or undefined when `error` is something
 * else.
 */
export function toUnavailableError(error: unknown): DatabaseUnavailableError | undefined {
  if (error instanceof DatabaseUnavailableError) return error;
  const candidate = error as { code?: string; message?: string; driverError?: unknown } | undefined;
  if (!candidate) return undefined;
  if (candidate.driverError) return toUnavailableError(candidate.driverError);
  // Before the codes: a Citus worker's connection failure is 08006 too, but the coordinator is up.
  const workerReason = workerFailureReason(candidate);
  if (workerReason) return new DatabaseUnavailableError(workerReason, error);
  const transient = transientFailureReason(candidate);
  if (transient) {
    return new DatabaseUnavailableError(`the server asked for the transaction to be run again (${transient})`, error, RUN_AGAIN_AFTER_SECONDS);
  }
  if (candidate.code && UNAVAILABLE_CODES.has(candidate.code)) {
    return new DatabaseUnavailableError('the server cannot be reached or is restarting', error);
  }
  if (candidate.message && UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(candidate.message!))) {
    const reason = /timeout exceeded/i.test(candidate.message)
      ? 'no pooled connection became free in time'
      : 'the connection to the server was lost';
    return new DatabaseUnavailableError(reason, error);
  }
  return undefined;
}

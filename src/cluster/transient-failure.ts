/**
 * SQLSTATEs with which the server says "run the transaction again": the statement was right, the
 * moment was not. On one node they come from a deadlock or from a transaction at SERIALIZABLE or
 * REPEATABLE READ; on Citus also from a shard that moved or split while the statement was routed to
 * it ("shard for the given value does not exist … Retry the query", 40001) and from a distributed
 * deadlock (40P01).
 */
const RUN_AGAIN: ReadonlyMap<string, string> = new Map([
  ['40001', 'serialization failure'],
  ['40P01', 'deadlock'],
]);

/** Why the server asked for the transaction to be run again, or undefined when `error` is something else. */
export function transientFailureReason(error: unknown): string | undefined {
  const candidate = error as { code?: unknown; driverError?: unknown } | undefined;
  if (!candidate) return undefined;
  if (candidate.driverError) return transientFailureReason(candidate.driverError);
  return typeof candidate.code === 'string' ? RUN_AGAIN.get(candidate.code) : undefined;
}

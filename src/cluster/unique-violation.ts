/** The fields of a PostgreSQL error that tell which unique constraint was violated. */
interface ServerError {
  code?: string;
  constraint?: string;
  message?: string;
}

/**
 * Whether `error` (a TypeORM `QueryFailedError` or a node-postgres error) is a violation of the
 * unique constraint or index named `constraint`, on one node and on a Citus coordinator alike.
 *
 * On Citus the violation happens on a worker's shard and comes back relayed: SQLSTATE and message
 * kept, but no constraint field, and the message names the shard's copy of the constraint
 * (`"UQ_flows_tenant_name_102008"`). Matching on `error.constraint` alone answers false there.
 */
export function isUniqueViolation(error: unknown, constraint: string): boolean {
  const candidate = error as (ServerError & { driverError?: ServerError }) | null | undefined;
  const server = candidate?.driverError ?? candidate;
  if (!server || server.code !== '23505') return false;
  if (server.constraint !== undefined) return server.constraint === constraint;
  const quoted = constraint.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`unique constraint "${quoted}(_\\d+)?"`).test(server.message ?? '');
}

import type { ScopedTransaction } from './scoped-transaction';

/**
 * The tenant a lifecycle statement names in its WHERE clause: the transaction's tenant, or null on
 * the system path, which acts for any tenant. Bound as a parameter, never written into the SQL.
 */
export function routingTenantOf(transaction: ScopedTransaction): string | null {
  return transaction.scope.kind === 'tenant' ? transaction.scope.tenantId : null;
}

/**
 * `(<param>::uuid IS NULL OR <alias.>tenant_id = <param>)`: the routing predicate of raw SQL (what
 * routing-predicate.ts adds to TypeORM's queries). With the tenant bound, PostgreSQL folds it to
 * `tenant_id = '<uuid>'` before Citus prunes shards (EXPLAIN: Task Count: 1); with null (the system
 * path) to true. RLS remains what isolates tenants: this only says where the rows are.
 */
export function tenantIs(parameter: string, alias?: string): string {
  return `(${parameter}::uuid IS NULL OR ${alias ? `${alias}.` : ''}tenant_id = ${parameter}::uuid)`;
}

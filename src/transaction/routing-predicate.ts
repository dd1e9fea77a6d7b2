import { type EntityManager, QueryBuilder } from 'typeorm';
import { tenantColumnOf } from '../tenancy/tenant-column';

/** The parameter that marks a query builder as built in a tenant transaction, and carries its tenant. */
const ROUTING_PARAMETER = '__fdlRoutingTenant';
/** Query types that read rows by a WHERE clause; an insert names its tenant in its values. */
const ROUTED_QUERY_TYPES = new Set(['select', 'update', 'delete', 'soft-delete', 'restore']);

interface BuilderInternals {
  expressionMap: {
    queryType: string;
    parameters: Record<string, unknown>;
    mainAlias?: { name: string; hasMetadata: boolean; metadata: Parameters<typeof tenantColumnOf>[0] };
    aliasNamePrefixingEnabled: boolean;
    extraAppendedAndWhereCondition: string;
  };
  escape(name: string): string;
  createWhereExpression(): string;
}

/**
 * Makes every query builder `manager` creates (repositories' find*, count, exists, update, delete,
 * save's reads and updates, createQueryBuilder) add `<tenant_id column> = <tenant>` to its WHERE
 * when its main entity has a tenant column.
 *
 * The predicate is for routing, not isolation (RLS is the guard and still applies): on Citus, a
 * query that names its distribution column's value goes to the one shard holding it instead of to
 * every shard; on one node it lets the (tenant_id, id) primary keys serve `WHERE id = …`.
 *
 * The mark is a query parameter because parameters are what TypeORM carries over when a builder
 * becomes another (`.update()`, `.delete()`) and what `.where()` does not replace.
 */
export function routeToTenant(manager: EntityManager, tenantId: string): void {
  installRoutingPredicate();
  const create = manager.createQueryBuilder.bind(manager) as (...args: unknown[]) => QueryBuilder<object>;
  (manager as unknown as { createQueryBuilder: unknown }).createQueryBuilder = (...args: unknown[]) =>
    create(...args).setParameter(ROUTING_PARAMETER, tenantId);
}

let installed = false;

/**
 * Extends TypeORM's WHERE rendering once per process. Builders without the mark (the system path,
 * other DataSources, other libraries) render exactly as before.
 */
function installRoutingPredicate(): void {
  if (installed) return;
  installed = true;
  const prototype = QueryBuilder.prototype as unknown as BuilderInternals;
  const original = prototype.createWhereExpression;
  prototype.createWhereExpression = function (this: BuilderInternals): string {
    const map = this.expressionMap;
    const alias = map.mainAlias;
    const column =
      map.parameters[ROUTING_PARAMETER] !== undefined && ROUTED_QUERY_TYPES.has(map.queryType) && alias?.hasMetadata
        ? tenantColumnOf(alias.metadata)
        : undefined;
    if (!column || !alias) return original.call(this);
    const target = map.aliasNamePrefixingEnabled
      ? `${this.escape(alias.name)}.${this.escape(column.databaseName)}`
      : this.escape(column.databaseName);
    const predicate = `${target} = :${ROUTING_PARAMETER}`;
    const extra = map.extraAppendedAndWhereCondition;
    map.extraAppendedAndWhereCondition = extra ? `${extra} AND ${predicate}` : predicate;
    try {
      return original.call(this);
    } finally {
      map.extraAppendedAndWhereCondition = extra;
    }
  };
}

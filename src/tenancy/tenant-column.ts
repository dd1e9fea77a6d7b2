import type { EntityMetadata, ObjectLiteral } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata';
import { TenantMismatchError } from './tenancy.errors';

/** The column every tenant-scoped table has, and that its policy and (on Citus) its distribution use. */
export const TENANT_COLUMN = 'tenant_id';

/**
 * The entity's `tenant_id` column, or undefined for an entity that belongs to no tenant (`Tenant`
 * itself, an application's shared tables). The one place that decides what "tenant-scoped" means
 * for an entity: filling writes and, on Citus, the routing predicate both ask here.
 */
export function tenantColumnOf(metadata: EntityMetadata): ColumnMetadata | undefined {
  return metadata.columns.find((column) => column.databaseName === TENANT_COLUMN && !column.relationMetadata);
}

/**
 * Makes `values` (an entity, or the plain object of an insert or update) belong to `tenantId`:
 * fills the tenant column when it is unset, and refuses a different tenant with
 * {@link TenantMismatchError} before the database would refuse it with a bare RLS error.
 * Values of an entity without a tenant column are left as they are.
 */
export function assignTenant<T extends ObjectLiteral>(metadata: EntityMetadata, values: T | undefined, tenantId: string): T | undefined {
  const column = tenantColumnOf(metadata);
  if (!column || !values || typeof values !== 'object') return values;
  const given: unknown = column.getEntityValue(values);
  if (given === undefined || given === null) {
    column.setEntityValue(values, tenantId);
  } else if (typeof given !== 'string' || given.toLowerCase() !== tenantId) {
    throw new TenantMismatchError(metadata.name);
  }
  return values;
}

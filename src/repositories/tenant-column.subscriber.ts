import type { EntitySubscriberInterface, InsertEvent, UpdateEvent } from 'typeorm';
import { assignTenant, tenantColumnOf } from '../tenancy/tenant-column';
import type { TenantContext } from '../tenant-context/tenant-context';
import { TenantMismatchError } from '../tenancy/tenancy.errors';

/**
 * Fills `tenant_id` on every insert made in a tenant context (save, insert, query-builder inserts)
 * and refuses an insert or update naming another tenant. Without it the first `save()` of an entity
 * created without a tenantId fails with PostgreSQL's bare "new row violates row-level security
 * policy". The system context is left alone: it writes for any tenant on purpose.
 */
export class TenantColumnSubscriber implements EntitySubscriberInterface {
  constructor(private readonly context: TenantContext) {}

  beforeInsert(event: InsertEvent<object>): void {
    const tenantId = this.currentTenantId();
    if (tenantId) assignTenant(event.metadata, event.entity, tenantId);
  }

  beforeUpdate(event: UpdateEvent<object>): void {
    const tenantId = this.currentTenantId();
    const column = tenantColumnOf(event.metadata);
    if (!tenantId || !column || !event.entity) return;
    // An update leaves an unset tenant id unset (it is not one of the columns to change).
    const given: unknown = column.getEntityValue(event.entity);
    if (given !== undefined && given !== null && String(given).toLowerCase() !== tenantId) {
      throw new TenantMismatchError(event.metadata.name);
    }
  }

  private currentTenantId(): string | undefined {
    const scope = this.context.current()?.scope;
    return scope?.kind === 'tenant' ? scope.tenantId : undefined;
  }
}

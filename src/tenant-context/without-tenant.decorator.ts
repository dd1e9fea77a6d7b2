import { SetMetadata } from '@nestjs/common';

export const WITHOUT_TENANT = 'fdl-runtime-db:without-tenant';

/**
 * Marks a route (or a whole controller) as needing no tenant: the interceptor lets it through with
 * no tenant context, so tenant-scoped repositories refuse to run there. For system work, such as
 * creating a tenant, call `TenancyService.runAsSystem` inside it.
 */
export const WithoutTenant = (): MethodDecorator & ClassDecorator => SetMetadata(WITHOUT_TENANT, true);

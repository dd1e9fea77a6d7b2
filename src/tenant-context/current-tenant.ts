import { currentTransaction } from './tenant-context';

/**
 * The tenant of the transaction the caller runs in (a request served by TenantContextInterceptor,
 * or `runInTenant`); undefined outside one and on the system path. A plain function, for code that
 * has no Nest injector at hand, such as an OpenTelemetry instrumentation hook:
 *
 * ```ts
 * new PgInstrumentation({ requestHook: (span) => span.setAttribute('fdl.tenant.id', currentTenantId() ?? '') })
 * ```
 */
export function currentTenantId(): string | undefined {
  const scope = currentTransaction()?.scope;
  return scope?.kind === 'tenant' ? scope.tenantId : undefined;
}

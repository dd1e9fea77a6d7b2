import { InvalidTenantIdError } from './tenancy.errors';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Returns the tenant id in canonical (lower-case) form, or throws {@link InvalidTenantIdError}
 * naming `source`. Checked before any connection is taken, so a malformed id never reaches SQL.
 */
export function parseTenantId(value: unknown, source = 'tenantId'): string {
  if (typeof value !== 'string' || !UUID.test(value)) throw new InvalidTenantIdError(source);
  return value.toLowerCase();
}

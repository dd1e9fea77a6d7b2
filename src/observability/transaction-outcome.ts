import { toUnavailableError } from '../cluster/database-unavailable';
import { DatabaseUnavailableError, TenantNotFoundError } from '../tenancy/tenancy.errors';
import type { TransactionOutcome } from './telemetry-names';

/** The outcome of a transaction that ended with `error` (none: it committed). */
export function transactionOutcome(error?: unknown): TransactionOutcome {
  if (error === undefined) return 'committed';
  // TypeORM wraps what the driver threw, the tenancy errors of the first statement included.
  const cause = (error as { driverError?: unknown } | null)?.driverError ?? error;
  if (cause instanceof TenantNotFoundError) return 'refused_tenant';
  if (cause instanceof DatabaseUnavailableError || toUnavailableError(cause)) return 'unavailable';
  return 'rolled_back';
}

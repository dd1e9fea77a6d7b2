import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { TenantContext } from './tenant-context';
import { ConnectionHeldError, DatabaseUnavailableError } from '../tenancy/tenancy.errors';

interface PostgresDriverInternals {
  obtainMasterConnection(): Promise<unknown>;
}

interface QueryRunnerInternals {
  databaseConnection?: unknown;
  isReleased: boolean;
}

/**
 * A request whose tenant transaction holds a pooled connection and then asks the pool for another
 * (`dataSource.query()` beside the repositories) waits for a connection that only it could free:
 * with a pool of one (the embedded database) forever, with a larger pool as soon as enough requests
 * do the same. Such a request fails at once on a pool of one, and is logged with its cause when its
 * wait fails on a larger pool, instead of a bare pool timeout nobody can explain.
 */
export function guardConnections(dataSource: DataSource, context: TenantContext, poolSize: number): void {
  const logger = new Logger('DatabaseModule');
  const driver = dataSource.driver as unknown as PostgresDriverInternals;
  const obtain = driver.obtainMasterConnection.bind(driver);
  driver.obtainMasterConnection = async () => {
    if (!holdsConnection(context)) return obtain();
    if (poolSize === 1) {
      const error = new ConnectionHeldError(poolSize);
      logger.error(error.message);
      throw error;
    }
    try {
      return await obtain();
    } catch (cause) {
      const error = new ConnectionHeldError(poolSize);
      logger.error(error.message);
      throw new DatabaseUnavailableError(error.message, cause);
    }
  };
}

/** True when the current context's transaction has a connection borrowed from the pool. */
function holdsConnection(context: TenantContext): boolean {
  const runner = context.current()?.manager.queryRunner as unknown as QueryRunnerInternals | undefined;
  // Set once the transaction's own borrow has resolved: its first connect passes through here unheld.
  return runner !== undefined && runner.databaseConnection !== undefined && !runner.isReleased;
}

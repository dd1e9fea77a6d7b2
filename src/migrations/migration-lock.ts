import { type DataSource, type Migration, MigrationExecutor, type QueryRunner } from 'typeorm';
import { assertMigrationRole } from './migration-role';

/** The advisory lock every migration command takes (`pg_advisory_lock(hashtext(key))`), per database. */
export const MIGRATION_LOCK_KEY = 'fdl-runtime-db:migrations';

const INSUFFICIENT_PRIVILEGE = '42501';

/**
 * TypeORM takes no lock around a migration run, so two processes started together (two replicas,
 * or a deploy job racing an app start) could both apply the same migration. A session advisory
 * lock, held on a connection of its own for the whole run, makes the second one wait and then
 * find nothing pending.
 */
export async function withMigrationLock<T>(
  dataSource: DataSource,
  work: (lockRunner: QueryRunner) => Promise<T>,
  /** Runs on the lock's connection before the lock is taken, e.g. a check that names a wrong login better than a refused lock would. */
  beforeLock?: (lockRunner: QueryRunner) => Promise<void>,
): Promise<T> {
  const lockRunner = dataSource.createQueryRunner();
  try {
    await beforeLock?.(lockRunner);
    await lockRunner.query(`SELECT pg_advisory_lock(hashtext($1))`, [MIGRATION_LOCK_KEY]).catch((error: { code?: string }) => {
      if (error.code !== INSUFFICIENT_PRIVILEGE) throw error;
      throw new Error(
        'this login may not take the migration lock (pg_advisory_lock is not granted to it): run migrations as the schema\'s owner, ' +
          'to which sql/least-privilege-logins.sql grants it',
        { cause: error },
      );
    });
    try {
      return await work(lockRunner);
    } finally {
      await lockRunner.query(`SELECT pg_advisory_unlock(hashtext($1))`, [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await lockRunner.release();
  }
}

/**
 * Applies every pending migration under the migration lock, all in one transaction, on the
 * connection that holds the lock: one connection in all, so that it also works on a pool of one
 * (the embedded database), where a second connection would wait for the first forever. Refuses a
 * login that is not the schema's owner first (see {@link assertMigrationRole}).
 */
export function runPendingMigrations(dataSource: DataSource): Promise<Migration[]> {
  return withMigrationLock(dataSource, async (lockRunner) => {
    const executor = new MigrationExecutor(dataSource, lockRunner);
    executor.transaction = 'all';
    return executor.executePendingMigrations();
  }, assertMigrationRole);
}

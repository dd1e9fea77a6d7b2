import type { DataSource, Migration } from 'typeorm';
import { assertMigrationRole } from './migration-role';

/** The advisory lock every migration command takes (`pg_advisory_lock(hashtext(key))`), per database. */
export const MIGRATION_LOCK_KEY = 'fdl-runtime-db:migrations';

/**
 * TypeORM takes no lock around a migration run, so two processes started together (two replicas,
 * or a deploy job racing an app start) could both apply the same migration. A session advisory
 * lock, held on a connection of its own for the whole run, makes the second one wait and then
 * find nothing pending.
 */
export async function withMigrationLock<T>(dataSource: DataSource, work: () => Promise<T>): Promise<T> {
  const lockRunner = dataSource.createQueryRunner();
  try {
    await lockRunner.query(`SELECT pg_advisory_lock(hashtext($1))`, [MIGRATION_LOCK_KEY]);
    try {
      return await work();
    } finally {
      await lockRunner.query(`SELECT pg_advisory_unlock(hashtext($1))`, [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await lockRunner.release();
  }
}

/**
 * Applies every pending migration under the migration lock, all in one transaction, after checking
 * that the login is the schema's owner (see {@link assertMigrationRole}).
 */
export async function runPendingMigrations(dataSource: DataSource): Promise<Migration[]> {
  await assertMigrationRole(dataSource);
  return withMigrationLock(dataSource, () => dataSource.runMigrations({ transaction: 'all' }));
}

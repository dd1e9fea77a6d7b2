import type { QueryRunner } from 'typeorm';

/**
 * The first statements of every migration. A DDL statement that waits for a lock makes every query
 * that arrives after it wait too, so a migration gives up after 5 s instead of stalling a live
 * application behind a long transaction (retry it); and no statement of a schema migration runs
 * longer than a minute. SET LOCAL: it ends with the migration's transaction.
 */
export async function boundMigrationWaits(queryRunner: QueryRunner): Promise<void> {
  await queryRunner.query(`SET LOCAL lock_timeout = '5s'`);
  await queryRunner.query(`SET LOCAL statement_timeout = '60s'`);
}

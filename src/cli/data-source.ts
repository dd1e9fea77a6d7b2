/**
 * The DataSource the typeorm CLI loads (`npm run migration:run | migration:revert | migration:show`).
 * It reads only `DATABASE_URL`: migrations always target a real PostgreSQL.
 */
import 'reflect-metadata';
import { assertPostgresUrl } from '../config/database-config';
import { DatabaseConfigError } from '../config/database-config.error';
import { migrationDataSourceOptions } from '../migrations/migration-data-source-options';
import { MigrationDataSource } from './migration-data-source';

function databaseUrl(): string {
  const url = process.env.DATABASE_URL?.trim();
  try {
    if (!url) {
      throw new DatabaseConfigError(
        'DATABASE_URL is not set: the migration commands need a PostgreSQL connection string, ' +
          'e.g. DATABASE_URL=postgres://user:password@localhost:5432/fdl npm run migration:run',
      );
    }
    assertPostgresUrl(url);
    return url;
  } catch (error) {
    if (!(error instanceof DatabaseConfigError)) throw error;
    // One clear line instead of the CLI's stack trace: this is an operator's typo, not a bug.
    process.stderr.write(`error: ${error.message}\n`);
    process.exit(1);
  }
}

export default new MigrationDataSource(migrationDataSourceOptions(databaseUrl()));

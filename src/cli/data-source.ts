/**
 * The DataSource the typeorm CLI loads (`npm run migration:run | migration:revert | migration:show`).
 * It reads only `DATABASE_URL`: migrations always target a real PostgreSQL.
 */
import 'reflect-metadata';
import { DatabaseConfigError } from '../config/database-config.error';
import { migrationDataSourceOptions } from '../migrations/migration-data-source-options';
import { MigrationDataSource } from './migration-data-source';

function options(): ReturnType<typeof migrationDataSourceOptions> {
  try {
    // Refuses an unset or malformed URL, naming DATABASE_URL.
    return migrationDataSourceOptions(process.env.DATABASE_URL);
  } catch (error) {
    if (!(error instanceof DatabaseConfigError)) throw error;
    // One clear line instead of the CLI's stack trace: this is an operator's typo, not a bug.
    process.stderr.write(`error: ${error.message}\n`);
    process.exit(1);
  }
}

export default new MigrationDataSource(options());

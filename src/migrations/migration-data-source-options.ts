import type { DataSourceOptions } from 'typeorm';
import { assertPostgresUrl } from '../config/database-config';
import { DatabaseConfigError } from '../config/database-config.error';
import type { EntityClass, MigrationClass } from '../config/database-module-options';
import { DATABASE_ENTITIES } from '../entities';
import { DATABASE_MIGRATIONS } from './index';

/** An application's own schema, beside the library's. */
export interface ApplicationSchema {
  /** The application's entities. Default: `[]`. */
  entities?: EntityClass[];
  /** The application's migrations, applied with the library's in timestamp order. Default: `[]`. */
  migrations?: MigrationClass[];
}

/**
 * The options of a DataSource that runs this library's migrations against `url`: for a host's own
 * typeorm CLI, scripts and tests. gen_random_uuid() is built into PostgreSQL 13+, so no extension is
 * installed (and none needs to be allowed). `app` adds the application's own entities and migrations.
 * A missing or malformed `url` is refused here, naming the variable it usually comes from: the typeorm
 * CLI would otherwise connect without one and fail with the driver's words.
 */
export function migrationDataSourceOptions(url: string | undefined, app: ApplicationSchema = {}): Extract<DataSourceOptions, { type: 'postgres' }> {
  url = url?.trim();
  if (!url) {
    throw new DatabaseConfigError(
      'DATABASE_URL is not set: migrations need a PostgreSQL connection string, e.g. postgres://owner:password@localhost:5432/fdl. ' +
        'The typeorm CLI does not read .env: export the variable, or load the file at the top of your data-source.ts (`process.loadEnvFile()`)',
    );
  }
  assertPostgresUrl(url);
  return {
    type: 'postgres',
    url,
    entities: [...DATABASE_ENTITIES, ...(app.entities ?? [])],
    migrations: [...DATABASE_MIGRATIONS, ...(app.migrations ?? [])],
    migrationsTransactionMode: 'all',
    installExtensions: false,
    uuidExtension: 'pgcrypto',
  };
}

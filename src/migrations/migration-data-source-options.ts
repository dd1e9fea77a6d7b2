import type { DataSourceOptions } from 'typeorm';
import type { EntityClass, MigrationClass } from '../database-module-options';
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
 */
export function migrationDataSourceOptions(url: string, app: ApplicationSchema = {}): Extract<DataSourceOptions, { type: 'postgres' }> {
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

import type { DataSourceOptions } from 'typeorm';
import { DATABASE_ENTITIES } from '../entities';
import { DATABASE_MIGRATIONS } from './index';

/**
 * The options of a DataSource that runs this library's migrations against `url`: for a host's own
 * typeorm CLI, scripts and tests. gen_random_uuid() is built into PostgreSQL 13+, so no extension is
 * installed (and none needs to be allowed).
 */
export function migrationDataSourceOptions(url: string): Extract<DataSourceOptions, { type: 'postgres' }> {
  return {
    type: 'postgres',
    url,
    entities: DATABASE_ENTITIES,
    migrations: DATABASE_MIGRATIONS,
    migrationsTransactionMode: 'all',
    installExtensions: false,
    uuidExtension: 'pgcrypto',
  };
}

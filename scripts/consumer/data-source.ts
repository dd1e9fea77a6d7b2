// The consumer's own typeorm CLI DataSource, built from the package's explicit arrays.
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { DATABASE_ENTITIES, DATABASE_MIGRATIONS } from 'fdl-runtime-db';

export default new DataSource({
  type: 'postgres',
  url: process.env.DATABASE_URL,
  entities: DATABASE_ENTITIES,
  migrations: DATABASE_MIGRATIONS,
  installExtensions: false,
  uuidExtension: 'pgcrypto',
});

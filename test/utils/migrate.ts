import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { migrationDataSourceOptions } from '../../src';

export const SQL_MIGRATIONS_DIR = join(__dirname, '..', '..', 'migrations');

/** A DataSource for running the TypeORM migrations against `url` (not initialised). */
export function migrationDataSource(url: string): DataSource {
  return new DataSource(migrationDataSourceOptions(url));
}

export async function withDataSource<T>(url: string, work: (dataSource: DataSource) => Promise<T>): Promise<T> {
  const dataSource = await migrationDataSource(url).initialize();
  try {
    return await work(dataSource);
  } finally {
    await dataSource.destroy();
  }
}

/** Applies the plain SQL files in order, each in its own transaction, as `sqlx migrate run` does. */
export async function applySqlFiles(url: string, files: string[]): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    for (const file of files) {
      await client.query('BEGIN');
      await client.query(readFileSync(join(SQL_MIGRATIONS_DIR, file), 'utf8'));
      await client.query('COMMIT');
    }
  } finally {
    await client.end();
  }
}

import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { migrationDataSourceOptions } from '../src';

/** The server the bench uses: BENCH_DATABASE_URL, TEST_DATABASE_URL, or the local one. */
export function benchServerUrl(): string {
  return process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
}

export function urlOf(database: string): string {
  const url = new URL(benchServerUrl());
  url.pathname = `/${database}`;
  return url.toString();
}

async function onServer(sql: string): Promise<void> {
  const client = new Client({ connectionString: benchServerUrl() });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A fresh empty database; `drop()` removes it. */
export async function createBenchDatabase(): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `fdl_bench_${randomBytes(4).toString('hex')}`;
  await onServer(`CREATE DATABASE "${name}"`);
  return { name, url: urlOf(name), drop: () => onServer(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) };
}

export function migrationDataSource(url: string): DataSource {
  return new DataSource(migrationDataSourceOptions(url));
}

/** Applies all migrations and returns how long `runMigrations` took, in ms. */
export async function migrate(url: string): Promise<number> {
  const dataSource = await migrationDataSource(url).initialize();
  try {
    const started = performance.now();
    await dataSource.runMigrations({ transaction: 'all' });
    return performance.now() - started;
  } finally {
    await dataSource.destroy();
  }
}

/** Runs SQL as the superuser login (seeding bypasses the roles on purpose: it is not the subject). */
export async function seed(url: string, sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows;
  } finally {
    await client.end();
  }
}

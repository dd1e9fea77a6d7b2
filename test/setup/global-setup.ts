import { readdirSync } from 'node:fs';
import path from 'node:path';
import { DataSource } from 'typeorm';
import { migrationDataSourceOptions } from '../../src/migrations/migration-data-source-options';
import { applyLeastPrivilegeLogins, loginUrl } from '../utils/least-privilege';
import { databaseUrl, dropDatabase, withServerClient } from '../utils/test-database';
import { citusUnavailable, startCitusCluster } from './citus-cluster';
import { resolveTestServer } from './postgres-server';

/**
 * Migrates one template database; each spec file then clones it (see test/utils/test-database.ts).
 * It is laid out as production should be: the logins made by sql/least-privilege-logins.sql, and
 * the schema migrated by the owner login, not by a superuser.
 */
export default async function globalSetup(globalConfig: { testPathPatterns?: unknown }): Promise<void> {
  process.env.FDL_TEST_SERVER_URL = await resolveTestServer();
  await startCitusIfNeeded(globalConfig);
  const template = `fdl_test_template_${process.pid}`;
  process.env.FDL_TEST_TEMPLATE = template;

  await dropDatabase(template);
  await withServerClient((client) => client.query(`CREATE DATABASE "${template}" TEMPLATE template0`));
  await withServerClient(applyLeastPrivilegeLogins, databaseUrl(template));
  const dataSource = new DataSource(migrationDataSourceOptions(loginUrl(databaseUrl(template), 'owner')));
  await dataSource.initialize();
  try {
    await dataSource.runMigrations({ transaction: 'all' });
  } finally {
    await dataSource.destroy();
  }
}

/**
 * A Citus cluster for test/citus, started only when those files are part of the run (a filtered run
 * of other files does not pay its start); FDL_TEST_CITUS_SKIP says why when it cannot start.
 */
async function startCitusIfNeeded(globalConfig: { testPathPatterns?: unknown }): Promise<void> {
  const patterns = ((globalConfig.testPathPatterns as { patterns?: string[] } | undefined)?.patterns ?? []) as string[];
  const citusFiles = readdirSync(path.join(__dirname, '..', 'citus')).map((file) => path.join(__dirname, '..', 'citus', file));
  if (patterns.length && !patterns.some((pattern) => citusFiles.some((file) => new RegExp(pattern, 'i').test(file)))) return;
  const unavailable = citusUnavailable();
  if (unavailable) {
    process.env.FDL_TEST_CITUS_SKIP = unavailable;
    console.warn(`\nCitus tests will be skipped: ${unavailable}`);
    return;
  }
  const started = Date.now();
  const cluster = await startCitusCluster();
  process.env.FDL_TEST_CITUS_PORT = String(cluster.basePort);
  (globalThis as { stopCitusCluster?: () => Promise<void> }).stopCitusCluster = cluster.stop;
  console.log(`\nCitus cluster (coordinator + 2 workers) on 127.0.0.1:${cluster.basePort}-${cluster.basePort + 2}, started in ${Date.now() - started} ms`);
}

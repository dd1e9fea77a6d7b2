import { DataSource } from 'typeorm';
import { migrationDataSourceOptions } from '../../src/migrations/migration-data-source-options';
import { applyLeastPrivilegeLogins, loginUrl } from '../utils/least-privilege';
import { databaseUrl, dropDatabase, withServerClient } from '../utils/test-database';
import { resolveTestServer } from './postgres-server';

/**
 * Migrates one template database; each spec file then clones it (see test/utils/test-database.ts).
 * It is laid out as production should be: the logins made by sql/least-privilege-logins.sql, and
 * the schema migrated by the owner login, not by a superuser.
 */
export default async function globalSetup(): Promise<void> {
  process.env.FDL_TEST_SERVER_URL = await resolveTestServer();
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

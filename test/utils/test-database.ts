import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { applyLeastPrivilegeLogins } from './least-privilege';

/** A database of the test server, made for one spec file and dropped after it. */
export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

function serverUrl(): string {
  const url = process.env.FDL_TEST_SERVER_URL;
  if (!url) throw new Error('FDL_TEST_SERVER_URL is not set: run the tests through jest (its global setup finds the server)');
  return url;
}

/** The URL of `database` on the test server. */
export function databaseUrl(database: string, server = serverUrl()): string {
  const url = new URL(server);
  url.pathname = `/${database}`;
  return url.toString();
}

/** A superuser connection to the test server's maintenance database, or to `url`. */
export async function withServerClient<T>(work: (client: Client) => Promise<T>, url = serverUrl()): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * A fresh database. By default a copy of the migrated template made by the global setup
 * (`CREATE DATABASE … TEMPLATE`, a file copy: much faster than migrating again); with
 * `{ migrated: false }`, an empty one.
 */
export async function createTestDatabase(options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const name = `fdl_test_${randomBytes(6).toString('hex')}`;
  const template = options.migrated === false ? 'template0' : process.env.FDL_TEST_TEMPLATE;
  if (!template) throw new Error('FDL_TEST_TEMPLATE is not set: run the tests through jest');
  await withServerClient((client) => client.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`));
  // An empty database gets the same logins and schema privileges as the template (the production
  // layout; on PostgreSQL 14 that also takes CREATE on schema public from PUBLIC).
  if (options.migrated === false) await withServerClient(applyLeastPrivilegeLogins, databaseUrl(name));
  return {
    name,
    url: databaseUrl(name),
    drop: () => dropDatabase(name),
  };
}

export async function dropDatabase(name: string): Promise<void> {
  await withServerClient((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}

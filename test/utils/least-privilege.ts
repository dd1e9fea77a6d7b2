import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from 'pg';

/** The logins of the production layout, as the tests name them (cluster-wide; password = name). */
export const TEST_LOGINS = {
  owner: 'fdl_test_owner',
  runtime: 'fdl_test_runtime',
  system: 'fdl_test_runtime_system',
} as const;

export type TestLogin = keyof typeof TEST_LOGINS;

const SCRIPT = path.resolve(__dirname, '..', '..', 'sql', 'least-privilege-logins.sql');

/**
 * Runs the shipped `sql/least-privilege-logins.sql` on `client` (a superuser, connected to the
 * database to set up) exactly as psql would with `-v` variables: the tests use the file operators
 * are told to run, not a copy of it.
 */
export async function applyLeastPrivilegeLogins(client: Client, logins: Record<TestLogin, string> = TEST_LOGINS): Promise<void> {
  const variables: Record<string, string> = {
    owner: logins.owner,
    owner_password: logins.owner,
    runtime: logins.runtime,
    runtime_password: logins.runtime,
    system_login: logins.system,
    system_password: logins.system,
  };
  const sql = readFileSync(SCRIPT, 'utf8').replace(/:'([a-z_]+)'/g, (_match, name: string) => {
    if (!(name in variables)) throw new Error(`sql/least-privilege-logins.sql uses an unknown variable :'${name}'`);
    return client.escapeLiteral(variables[name]);
  });
  // Two jest runs (or workers) setting up at once race on CREATE ROLE; the script is idempotent.
  for (let attempt = 1; ; attempt++) {
    try {
      await client.query(sql);
      return;
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (attempt < 3 && (code === '23505' || code === '42710' || code === 'XX000')) continue;
      throw error;
    }
  }
}

/** `url` with `login` as its user (and password). */
export function loginUrl(url: string, login: TestLogin): string {
  const parsed = new URL(url);
  parsed.username = TEST_LOGINS[login];
  parsed.password = TEST_LOGINS[login];
  return parsed.toString();
}

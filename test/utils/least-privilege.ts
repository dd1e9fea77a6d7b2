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
 * are told to run, not a copy of it. Like psql, each statement runs in its own transaction (on a
 * Citus coordinator the script changes the workers over connections of their own, which must see
 * the roles its first statements created).
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
      for (const statement of sqlStatements(sql)) await client.query(statement);
      return;
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (attempt < 3 && (code === '23505' || code === '42710' || code === 'XX000')) continue;
      throw error;
    }
  }
}

/**
 * The statements of a SQL script, split where psql sends them: at each `;` outside comments, quoted
 * literals and identifiers, and dollar-quoted bodies (`DO $$ … $$`).
 */
export function sqlStatements(script: string): string[] {
  const dollarTag = /\$[A-Za-z_]*\$/y;
  const statements: string[] = [];
  let start = 0;
  let i = 0;
  const skipTo = (closing: string, from: number) => {
    const end = script.indexOf(closing, from);
    return end === -1 ? script.length : end + closing.length;
  };
  while (i < script.length) {
    dollarTag.lastIndex = i;
    const tag = dollarTag.exec(script)?.[0];
    if (script.startsWith('--', i)) i = skipTo('\n', i);
    else if (script.startsWith('/*', i)) i = skipTo('*/', i + 2);
    // A doubled quote inside is two quoted runs back to back: the same result.
    else if (script[i] === "'" || script[i] === '"') i = skipTo(script[i], i + 1);
    else if (tag) i = skipTo(tag, i + tag.length);
    else if (script[i] === ';') {
      statements.push(script.slice(start, i + 1));
      start = ++i;
    } else i++;
  }
  statements.push(script.slice(start));
  return statements.filter((statement) => !/^;?$/.test(statement.replace(/--[^\n]*/g, '').trim()));
}

/** `url` with `login` as its user (and password). */
export function loginUrl(url: string, login: TestLogin): string {
  const parsed = new URL(url);
  parsed.username = TEST_LOGINS[login];
  parsed.password = TEST_LOGINS[login];
  return parsed.toString();
}

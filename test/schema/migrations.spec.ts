import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { Client } from 'pg';
import { DataSource, type MigrationInterface } from 'typeorm';
import { DATABASE_MIGRATIONS } from '../../src/migrations';
import { MIGRATION_LOCK_KEY } from '../../src/migrations/migration-lock';
import { loginUrl, TEST_LOGINS } from '../utils/least-privilege';
import { schemaSnapshot, type SchemaSnapshot } from '../utils/schema-snapshot';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';
import { asSuperuser } from '../utils/tenant-sql';

const REPOSITORY = resolve(__dirname, '..', '..');
const NAMES = DATABASE_MIGRATIONS.map((Migration) => new Migration().name!);

async function withMigrations<T>(
  url: string,
  migrations: (new () => MigrationInterface)[],
  work: (dataSource: DataSource) => Promise<T>,
): Promise<T> {
  const dataSource = new DataSource({
    type: 'postgres',
    url,
    migrations,
    installExtensions: false,
    uuidExtension: 'pgcrypto',
    // TypeORM prints migration progress whatever `logging` says; a failure still rejects.
    logger: { logQuery() {}, logQueryError() {}, logQuerySlow() {}, logSchemaBuild() {}, logMigration() {}, log() {} },
  });
  await dataSource.initialize();
  try {
    return await work(dataSource);
  } finally {
    await dataSource.destroy();
  }
}

const appliedMigrations = (url: string) =>
  asSuperuser(url, async (client) => (await client.query<{ name: string }>('SELECT name FROM migrations ORDER BY id')).rows.map((row) => row.name));

interface CliRun {
  exited: Promise<{ code: number | null; stdout: string; stderr: string }>;
  hasExited(): boolean;
}

/**
 * `npm run --silent <script>` from the repository root, as an operator runs it; `DATABASE_URL` as
 * given (undefined: unset). ts-node only transpiles: type checking is `npm run typecheck`'s job and
 * would cost ~3 s per process.
 */
function npmRun(script: 'migration:run' | 'migration:revert' | 'migration:show', databaseUrl: string | undefined): CliRun {
  // NO_COLOR: under CI=true the CLI colours its output, which the assertions below read as text.
  const env: NodeJS.ProcessEnv = { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true', NO_COLOR: '1', FORCE_COLOR: '0', DATABASE_URL: databaseUrl };
  if (databaseUrl === undefined) delete env.DATABASE_URL;
  const child = spawn('npm', ['run', '--silent', script], { cwd: REPOSITORY, env });
  let stdout = '';
  let stderr = '';
  let exited = false;
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return {
    exited: new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => {
        exited = true;
        resolve({ code, stdout, stderr });
      });
    }),
    hasExited: () => exited,
  };
}

describe('migrations', () => {
  const databases: TestDatabase[] = [];
  const database = async (options: { migrated?: boolean } = {}) => {
    const db = await createTestDatabase(options);
    databases.push(db);
    return db;
  };
  afterAll(() => Promise.all(databases.map((db) => db.drop())));

  /** `steps[k]`: the schema after the first k migrations, each applied by a run of its own. */
  const steps: SchemaSnapshot[] = [];
  let stepped: TestDatabase;
  beforeAll(async () => {
    stepped = await database({ migrated: false });
    steps.push(await schemaSnapshot(stepped.url));
    for (let k = 1; k <= DATABASE_MIGRATIONS.length; k++) {
      await withMigrations(stepped.url, DATABASE_MIGRATIONS.slice(0, k), (dataSource) => dataSource.runMigrations());
      steps.push(await schemaSnapshot(stepped.url));
    }
  });
  const fullSchema = () => steps[DATABASE_MIGRATIONS.length];

  it("each migration's down() returns the schema to what it was before its up(), and up again rebuilds it", async () => {
    await withMigrations(stepped.url, DATABASE_MIGRATIONS, async (dataSource) => {
      for (let k = DATABASE_MIGRATIONS.length; k >= 1; k--) {
        await dataSource.undoLastMigration({ transaction: 'each' });
        // Labelled, so that a failure names the migration whose down() left something behind.
        expect({ reverted: NAMES[k - 1], schema: await schemaSnapshot(stepped.url) }).toEqual({
          reverted: NAMES[k - 1],
          schema: steps[k - 1],
        });
      }
    });
    // The roles are cluster-wide and other databases use them: the first migration's down() keeps
    // them (with a NOTICE), so they are not expected to be gone. Everything in the schema is.
    const reverted = await schemaSnapshot(stepped.url);
    expect({ tables: reverted.tables, functions: reverted.functions }).toEqual({ tables: [], functions: [] });
    expect(reverted.schemaGrants.filter((grant) => grant.startsWith('fdl_'))).toEqual([]);
    await expect(appliedMigrations(stepped.url)).resolves.toEqual([]);

    await withMigrations(stepped.url, DATABASE_MIGRATIONS, (dataSource) => dataSource.runMigrations({ transaction: 'all' }));
    expect(await schemaSnapshot(stepped.url)).toEqual(fullSchema());
    await expect(appliedMigrations(stepped.url)).resolves.toEqual(NAMES);
  });

  it('a run that fails half-way leaves the schema as it was, and records nothing as applied', async () => {
    const db = await database({ migrated: false });
    await asSuperuser(db.url, (client) => client.query('CREATE TABLE audit_logs (id int)')); // CreateAuditLogs will collide
    const before = await schemaSnapshot(db.url);
    await expect(
      withMigrations(db.url, DATABASE_MIGRATIONS, (dataSource) => dataSource.runMigrations({ transaction: 'all' })),
    ).rejects.toThrow(/relation "audit_logs" already exists/);
    expect(await schemaSnapshot(db.url)).toEqual(before);
    await expect(appliedMigrations(db.url)).resolves.toEqual([]);
  });

  it('npm run migration:run refuses a missing or malformed DATABASE_URL with one line naming the problem', async () => {
    const cases = [
      { databaseUrl: undefined, problem: /^error: DATABASE_URL is not set: / },
      { databaseUrl: 'not-a-url', problem: /^error: DATABASE_URL is not a valid URL: / },
      { databaseUrl: 'mysql://x@y/z', problem: /^error: DATABASE_URL must start with postgres:\/\/ or postgresql:\/\// },
    ];
    const results = await Promise.all(cases.map(({ databaseUrl }) => npmRun('migration:run', databaseUrl).exited));
    expect(
      results.map(({ code, stderr }, index) => ({ databaseUrl: cases[index].databaseUrl, failed: code !== 0, stderr: stderr.trimEnd().split('\n') })),
    ).toEqual(cases.map(({ databaseUrl, problem }) => ({ databaseUrl, failed: true, stderr: [expect.stringMatching(problem)] })));
  });

  it('three migration:run started together apply each migration exactly once, and migration:show lists them as applied', async () => {
    const db = await database({ migrated: false });
    // Started together, the processes still reach the database hundreds of milliseconds apart
    // (ts-node start-up), more than a whole run takes: left alone they might never overlap. Holding
    // the migration lock until all three wait for it lines them up; without the lock they would not
    // wait, and this test fails below.
    const gate = new Client({ connectionString: db.url });
    await gate.connect();
    let runs: CliRun[] = [];
    try {
      await gate.query('SELECT pg_advisory_lock(hashtext($1))', [MIGRATION_LOCK_KEY]);
      runs = [1, 2, 3].map(() => npmRun('migration:run', db.url));
      const deadline = Date.now() + 90_000;
      for (;;) {
        const { rows } = await gate.query<{ waiting: number }>(
          `SELECT count(*)::int AS waiting FROM pg_locks
           WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        );
        if (rows[0].waiting === 3) break;
        if (runs.some((run) => run.hasExited()) || Date.now() > deadline) {
          const states = await Promise.all(
            runs.map(async (run) => (run.hasExited() ? `exited ${(await run.exited).code}` : 'running')),
          );
          throw new Error(`expected 3 migration:run waiting for the migration lock, found ${rows[0].waiting} (${states.join(', ')})`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } finally {
      await gate.end(); // releases the lock
    }
    const results = await Promise.all(runs.map((run) => run.exited));

    expect(results.map((result) => result.code)).toEqual([0, 0, 0]);
    const executed = results.map((result) => result.stdout.match(/^Migration \S+ has been executed successfully\.$/gm)?.length ?? 0);
    expect(executed.sort()).toEqual([0, 0, DATABASE_MIGRATIONS.length]);
    await expect(appliedMigrations(db.url)).resolves.toEqual(NAMES);
    expect(await schemaSnapshot(db.url)).toEqual(fullSchema());

    const show = await npmRun('migration:show', db.url).exited;
    expect(show.code).toBe(0);
    expect(show.stdout.trimEnd().split('\n')).toEqual(NAMES.map((name, index) => `[X] ${index + 1} ${name}`));
  }, 180_000); // three CLI processes (ts-node) and a fourth for show: slow on a busy 2-core machine

  it('migration:revert undoes the last migration only, and migration:run applies it again', async () => {
    const db = await database(); // migrated by the global setup
    const revert = await npmRun('migration:revert', db.url).exited;
    expect(revert.code).toBe(0);
    await expect(appliedMigrations(db.url)).resolves.toEqual(NAMES.slice(0, -1));
    expect(await schemaSnapshot(db.url)).toEqual(steps[DATABASE_MIGRATIONS.length - 1]);

    const run = await npmRun('migration:run', db.url).exited;
    expect(run.code).toBe(0);
    await expect(appliedMigrations(db.url)).resolves.toEqual(NAMES);
    expect(await schemaSnapshot(db.url)).toEqual(fullSchema());
  });
  it('npm run migration:run as the runtime login (not the owner) refuses before changing anything, naming both logins', async () => {
    const db = await database(); // migrated by the global setup, as the owner login
    const run = await npmRun('migration:revert', loginUrl(db.url, 'runtime')).exited;
    expect(run.code).not.toBe(0);
    expect(run.stdout + run.stderr).toContain(
      `migrations must run as the schema's owner: "${TEST_LOGINS.owner}" owns its tables, but the migration logs in as "${TEST_LOGINS.runtime}"`,
    );
    await expect(appliedMigrations(db.url)).resolves.toEqual(NAMES);
  });
});

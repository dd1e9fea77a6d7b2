import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DATABASE_MIGRATIONS } from '../../src';
import { withDataSource } from '../utils/migrate';
import { schemaSnapshot } from '../utils/schema-snapshot';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';
import { asSuperuser } from '../utils/tenant-sql';

const ROOT = join(__dirname, '..', '..');
const TYPEORM_CLI = join(ROOT, 'node_modules', 'typeorm', 'cli-ts-node-commonjs.js');

/** Runs the typeorm CLI as `npm run migration:<command>` does; never throws, returns the outcome. */
async function cli(command: 'run' | 'revert' | 'show', env: Record<string, string | undefined>) {
  const environment: NodeJS.ProcessEnv = { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true', ...env };
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete environment[key];
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [TYPEORM_CLI, `migration:${command}`, '-d', 'src/cli/data-source.ts'], {
      cwd: ROOT,
      env: environment,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code: number; stdout: string; stderr: string };
    return { code: failure.code, stdout: failure.stdout, stderr: failure.stderr };
  }
}

const appliedMigrations = (url: string) =>
  asSuperuser(url, async (c) => (await c.query<{ name: string }>('SELECT name FROM migrations ORDER BY id')).rows.map((r) => r.name));

describe('Migrations', () => {
  let migrated: Record<string, unknown[]>;
  const databases: TestDatabase[] = [];
  const fresh = async () => {
    const db = await createTestDatabase({ migrated: false });
    databases.push(db);
    return db;
  };
  beforeAll(async () => {
    const reference = await createTestDatabase(); // the template: migrated by the global setup
    databases.push(reference);
    migrated = await schemaSnapshot(reference.url);
  });
  afterAll(() => Promise.all(databases.map((db) => db.drop())));

  it('up, then down one by one to nothing, then up again gives the same schema', async () => {
    const db = await fresh();
    await withDataSource(db.url, async (dataSource) => {
      await dataSource.runMigrations({ transaction: 'all' });
      expect(await schemaSnapshot(db.url)).toEqual(migrated);
      for (let i = 0; i < DATABASE_MIGRATIONS.length; i++) await dataSource.undoLastMigration({ transaction: 'all' });
      const empty = await schemaSnapshot(db.url);
      expect({ tables: empty.tables, functions: empty.functions, policies: empty.policies }).toEqual({ tables: [], functions: [], policies: [] });
      await dataSource.runMigrations({ transaction: 'all' });
    });
    expect(await schemaSnapshot(db.url)).toEqual(migrated);
  });

  it('a migration that fails half-way leaves the schema as it was', async () => {
    const db = await fresh();
    await asSuperuser(db.url, (c) => c.query('CREATE TABLE audit_logs (id int)')); // migration 6 will collide with it
    await expect(withDataSource(db.url, (dataSource) => dataSource.runMigrations({ transaction: 'all' }))).rejects.toThrow(/already exists/);
    const after = await schemaSnapshot(db.url);
    expect(after.tables.map((t) => (t as { relname: string }).relname)).toEqual(['audit_logs']);
  });

  it('the CLI refuses a missing or malformed DATABASE_URL with one line naming it', async () => {
    for (const [value, message] of [
      [undefined, /DATABASE_URL is not set/],
      ['not-a-url', /DATABASE_URL is not a valid URL/],
      ['mysql://u@h/db', /DATABASE_URL must start with postgres:\/\//],
    ] as const) {
      const result = await cli('run', { DATABASE_URL: value });
      expect(result.code).not.toBe(0);
      expect(result.stderr.trim()).toMatch(message);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('three migration:run started together apply each migration exactly once; show lists them; revert then run restores the schema', async () => {
    const db = await fresh();
    const results = await Promise.all([1, 2, 3].map(() => cli('run', { DATABASE_URL: db.url })));
    expect(results.map((r) => r.code)).toEqual([0, 0, 0]);
    expect(await appliedMigrations(db.url)).toEqual(DATABASE_MIGRATIONS.map((m) => m.name));
    expect(await schemaSnapshot(db.url)).toEqual(migrated);

    const show = await cli('show', { DATABASE_URL: db.url });
    expect(show.stdout.match(/\[X\]/g)).toHaveLength(DATABASE_MIGRATIONS.length);

    expect((await cli('revert', { DATABASE_URL: db.url })).code).toBe(0);
    expect(await appliedMigrations(db.url)).toHaveLength(DATABASE_MIGRATIONS.length - 1);
    expect((await cli('run', { DATABASE_URL: db.url })).code).toBe(0);
    expect(await schemaSnapshot(db.url)).toEqual(migrated);
  });
});

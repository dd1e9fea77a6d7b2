import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type { Client } from 'pg';
import { DataSource } from 'typeorm';
import { migrationDataSourceOptions } from '../../src/migrations/migration-data-source-options';
import { tenantSetStatement } from '../../src/transaction/prelude';
import { CITUS_CLUSTER } from '../setup/citus-cluster';
import { freePort } from './free-port';
import { asSuperuser } from './tenant-sql';

const run = promisify(execFile);

/** Why the Citus tests are skipped in this run, or undefined when a cluster was started for them. */
export const citusSkipReason = (): string | undefined =>
  process.env.FDL_TEST_CITUS_PORT ? undefined : (process.env.FDL_TEST_CITUS_SKIP ?? 'no Citus cluster was started for this run');

/** `describe` for the Citus suites: skipped, with the reason printed, where no cluster runs. */
export function describeOnCitus(name: string, suite: () => void): void {
  const reason = citusSkipReason();
  if (reason) {
    describe.skip(`${name} (skipped: ${reason})`, suite);
    // eslint-disable-next-line no-console
    console.warn(`Citus tests skipped: ${reason}`);
  } else {
    describe(name, suite);
  }
}

const nodeUrl = (port: number, database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`;

/** The coordinator port of the run's cluster (started by the global setup). */
const runClusterPort = () => Number(process.env.FDL_TEST_CITUS_PORT);

/** A database of its own on every node of the run's cluster, the workers registered. */
export interface CitusDatabase {
  name: string;
  /** The coordinator's port; the workers listen on the next two. */
  port: number;
  /** The coordinator's URL. */
  url: string;
  /** The URL of the database on worker 1 or 2. */
  workerUrl(worker: 1 | 2): string;
  drop(): Promise<void>;
}

/** `basePort`: the coordinator of a cluster other than the run's, e.g. one a spec file started for itself. */
export async function createCitusDatabase(options: { withCitus?: boolean; basePort?: number; shardCount?: number } = {}): Promise<CitusDatabase> {
  const base = options.basePort ?? runClusterPort();
  const name = `fdl_citus_${randomBytes(5).toString('hex')}`;
  if (options.withCitus === false) {
    await onNode(base, 'postgres', (c) => c.query(`CREATE DATABASE "${name}"`));
  } else {
    // Registering the workers syncs the cluster's roles to them: queued with the other files' role changes.
    await withClusterRolesLocked(() => run('bash', [CITUS_CLUSTER, 'createdb', name, String(base)]), base);
    // Four shards a table unless asked for Citus's 32: distributing and every multi-shard statement get faster.
    await onNode(base, 'postgres', (c) => c.query(`ALTER DATABASE "${name}" SET citus.shard_count = ${Number(options.shardCount ?? 4)}`));
  }
  return {
    name,
    port: base,
    url: nodeUrl(base, name),
    workerUrl: (worker) => nodeUrl(base + worker, name),
    drop: async () => {
      for (const port of [base, base + 1, base + 2]) {
        await onNode(port, 'postgres', (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).catch(() => undefined);
      }
    },
  };
}

/** Adds Citus to a database made with `{ withCitus: false }`, as an operator would later. */
export async function addCitus(db: CitusDatabase): Promise<void> {
  const base = db.port;
  for (const port of [base + 1, base + 2]) {
    await onNode(port, 'postgres', (c) => c.query(`CREATE DATABASE "${db.name}"`));
    await onNode(port, db.name, (c) => c.query('CREATE EXTENSION citus'));
  }
  await onNode(base, db.name, async (c) => {
    await c.query('CREATE EXTENSION citus');
    await c.query(`ALTER DATABASE "${db.name}" SET citus.shard_count = 4`);
    await c.query(`SELECT citus_set_coordinator_host('127.0.0.1', $1)`, [base]);
    await c.query(`SELECT citus_add_node('127.0.0.1', $1)`, [base + 1]);
    await c.query(`SELECT citus_add_node('127.0.0.1', $1)`, [base + 2]);
  });
}

/** One more Citus node beside the run's cluster, on a free port: a worker to add to a database. */
export async function startExtraCitusNode(): Promise<{ port: number; stop(): Promise<void> }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'fdl-citus-node-'));
  chmodSync(dir, 0o755);
  const port = await freePort();
  await run('bash', [CITUS_CLUSTER, 'addnode', dir, String(port)], { timeout: 120_000 });
  return {
    port,
    stop: async () => {
      await run('bash', [CITUS_CLUSTER, 'stop', dir]).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function onNode<T>(port: number, database: string, work: (client: Client) => Promise<T>): Promise<T> {
  return withClient(nodeUrl(port, database), work);
}

/** A plain connection to `url` (the cluster's login is a superuser). */
export const withClient = asSuperuser;

/**
 * Runs `work` while no other spec file of the run changes the cluster's roles. Roles belong to the
 * cluster, not to a database: two files migrating their databases at once both create or grant
 * the same role (a unique violation on pg_authid) or update its row together ("tuple concurrently
 * updated"), on the coordinator and again where Citus propagates it to the workers. An advisory
 * lock in the coordinator's `postgres` database, which every file shares, puts them in a queue.
 */
export async function withClusterRolesLocked<T>(work: () => Promise<T>, clusterPort = runClusterPort()): Promise<T> {
  return onNode(clusterPort, 'postgres', async (lock) => {
    await lock.query(`SELECT pg_advisory_lock(hashtext('fdl-test-cluster-roles'))`);
    try {
      return await work();
    } finally {
      await lock.query(`SELECT pg_advisory_unlock(hashtext('fdl-test-cluster-roles'))`);
    }
  });
}

/** Runs the migrations on the coordinator, as `npm run migration:run` does. */
export async function migrateCitus(url: string, clusterPort = runClusterPort()): Promise<void> {
  await withClusterRolesLocked(async () => {
    const dataSource = await new DataSource(migrationDataSourceOptions(url)).initialize();
    try {
      await dataSource.runMigrations({ transaction: 'all' });
    } finally {
      await dataSource.destroy();
    }
  }, clusterPort);
}

/**
 * The roles tenant transactions switch to, made able to log in on the workers: Citus opens its
 * connections to them as the current role. (How production restricts that: docs/citus.md.)
 */
export async function letRolesReachWorkers(db: CitusDatabase): Promise<void> {
  await withClusterRolesLocked(() => withClient(db.url, (c) => c.query('ALTER ROLE fdl_app LOGIN; ALTER ROLE fdl_system LOGIN')), db.port);
}

/** A database of its own on the run's cluster, migrated, its roles able to reach the workers. */
export async function createServingCitusDatabase(): Promise<CitusDatabase> {
  const db = await createCitusDatabase();
  await migrateCitus(db.url);
  await letRolesReachWorkers(db);
  return db;
}

/**
 * A transaction on the coordinator as `role`, with the tenant set the way Citus sends it to the
 * workers: `SET LOCAL`, the statement, after `citus.propagate_set_commands = 'local'`
 * (`set_config()` is not propagated). SET takes no parameters: the tenant id is written into the
 * statement only as the canonical UUID parseTenantId returns, never as given (the module's own
 * tenantSetStatement).
 */
export async function asRoleOnCitus<T>(
  url: string,
  options: { role: 'fdl_app' | 'fdl_system'; tenantId?: string | null; commit?: boolean },
  work: (client: Client) => Promise<T>,
): Promise<T> {
  return withClient(url, async (client) => {
    await client.query('BEGIN');
    try {
      await client.query(`SET LOCAL ROLE ${options.role}`);
      await client.query(`SET LOCAL citus.propagate_set_commands = 'local'`);
      if (options.tenantId === '') await client.query(`SET LOCAL app.current_tenant_id = ''`);
      else if (options.tenantId) await client.query(tenantSetStatement(options.tenantId));
      const result = await work(client);
      await client.query(options.commit ? 'COMMIT' : 'ROLLBACK');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  });
}

export const asTenantOnCitus = <T>(url: string, tenantId: string | null, work: (client: Client) => Promise<T>, commit = false) =>
  asRoleOnCitus(url, { role: 'fdl_app', tenantId, commit }, work);

export const asSystemOnCitus = <T>(url: string, work: (client: Client) => Promise<T>, commit = true) =>
  asRoleOnCitus(url, { role: 'fdl_system', commit }, work);

/** How every table must be distributed; what differs is reported, one line a table. */
export async function distributionViolations(client: Client): Promise<string[]> {
  const expected: Record<string, string> = {
    tenants: 'reference',
    flows: 'distributed by tenant_id',
    flow_versions: 'distributed by tenant_id',
    execution_snapshots: 'distributed by tenant_id',
    execution_history: 'distributed by tenant_id',
    audit_logs: 'distributed by tenant_id',
  };
  const { rows } = await client.query<{ table: string; how: string; colocation: number }>(
    `SELECT c.relname AS table,
            CASE WHEN p.partmethod = 'n' THEN 'reference'
                 WHEN p.partmethod = 'h' THEN 'distributed by ' || column_to_column_name(p.logicalrelid, p.partkey)
                 ELSE coalesce(p.partmethod::text, 'local') END AS how,
            p.colocationid AS colocation
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_dist_partition p ON p.logicalrelid = c.oid
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname <> 'migrations'`,
  );
  const violations: string[] = [];
  const colocations = new Set<number>();
  for (const row of rows) {
    const partition = row.table.startsWith('execution_history_');
    const want = expected[row.table] ?? (partition ? 'distributed by tenant_id' : undefined);
    if (!want) continue;
    const how = row.how ?? 'local';
    if (how !== want) violations.push(`${row.table}: ${how}, expected ${want}`);
    if (want.startsWith('distributed') && how === want) colocations.add(row.colocation);
  }
  for (const table of Object.keys(expected)) if (!rows.some((row) => row.table === table)) violations.push(`${table}: missing`);
  if (colocations.size > 1) violations.push(`tenant tables are in ${colocations.size} co-location groups, expected 1`);
  return violations;
}

/** The `Task Count: n` figures of an EXPLAIN output: one per distributed scan or step. */
export const taskCounts = (plan: { 'QUERY PLAN': string }[]): number[] =>
  plan.map((row) => /Task Count: (\d+)/.exec(row['QUERY PLAN'])?.[1]).filter((n): n is string => n !== undefined).map(Number);

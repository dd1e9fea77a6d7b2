import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { getRepositoryToken } from '@nestjs/typeorm';
import { Pool } from 'pg';
import type { Repository } from 'typeorm';
import { Flow, TenancyService } from '../../src';
import { CITUS_CLUSTER, citusUnavailable, startCitusCluster } from '../../test/setup/citus-cluster';
import { startBenchContext, startBenchHttpApp } from '../bench-app';
import { migrate, seed } from '../bench-database';
import { compare, measure, type Measurement, type ReportRow } from '../harness';
import { seedDataset, type Dataset } from './dataset';
import { drive } from './http';

const run = promisify(execFile);

interface Options {
  durationMs: number;
  concurrency: number;
  poolSize: number;
}

/**
 * The module on a Citus cluster (a coordinator and two workers started by scripts/citus/cluster.sh, 32 shards a
 * table) against the same module on the single node, in the same run: the tenant read through an
 * injected repository and GET /flows/:id. And what the routing predicate buys there: the same
 * tenant transaction in raw `pg`, its read naming the tenant (one shard) or relying on RLS alone
 * (every shard).
 */
export async function citus(singleNodeUrl: string, singleNodeData: Dataset, options: Options): Promise<ReportRow[]> {
  const unavailable = citusUnavailable();
  if (unavailable) return [skipped(unavailable)];
  const cluster = await startCitusCluster();
  try {
    const url = await createClusterDatabase(cluster.basePort);
    await migrate(url);
    // Citus opens its worker connections as the current role (docs/citus.md).
    await seed(url, 'ALTER ROLE fdl_app LOGIN; ALTER ROLE fdl_system LOGIN');
    const data = await seedDataset(url, 50, 20);
    const shards = await seed(url, `SELECT count(*)::int AS n FROM pg_dist_shard WHERE logicalrelid = 'flows'::regclass`);

    const single = await moduleRead('module read, single node', singleNodeUrl, singleNodeData, options);
    const onCluster = await moduleRead(`module read, Citus (${shards[0].n} shards, 2 workers)`, url, data, options);
    const httpSingle = await httpRead('HTTP GET /flows/:id, single node', singleNodeUrl, singleNodeData, options);
    const httpCluster = await httpRead('HTTP GET /flows/:id, Citus', url, data, options);
    const { router, fanOut } = await routerAgainstFanOut(url, data, options);
    return [
      { group: 'citus', ...single },
      relative(onCluster, single),
      { group: 'citus', ...httpSingle },
      relative(httpCluster, httpSingle),
      { group: 'citus', ...fanOut },
      compare('citus', router, fanOut, 1.0),
    ];
  } finally {
    await cluster.stop();
  }
}

/** A ratio with no target: what a cluster costs per request is a figure to know, not a pass mark. */
function relative(subject: Measurement, baseline: Measurement): ReportRow {
  return { group: 'citus', ...subject, baseline: baseline.name, ratio: subject.opsPerSec / baseline.opsPerSec };
}

function skipped(reason: string): ReportRow {
  process.stderr.write(`citus: skipped (${reason})\n`);
  return { group: 'citus', name: `skipped: ${reason}`, ops: 0, opsPerSec: NaN, p50Ms: NaN, p99Ms: NaN };
}

async function createClusterDatabase(basePort: number): Promise<string> {
  const { stdout } = await run('bash', [CITUS_CLUSTER, 'createdb', 'fdl_bench', String(basePort)]);
  return stdout.trim().split('\n').pop()!;
}

const picker = (data: Dataset) => (caller: number, iteration: number) => data.flows[(caller * 7919 + iteration) % data.flows.length];

async function moduleRead(name: string, url: string, data: Dataset, options: Options): Promise<Measurement> {
  const pick = picker(data);
  const app = await startBenchContext(url, options.poolSize);
  try {
    const tenancy = app.get(TenancyService);
    const flows = app.get<Repository<Flow>>(getRepositoryToken(Flow));
    return await measure(
      name,
      async (c, i) => {
        const flow = pick(c, i);
        const found = await tenancy.runInTenant(flow.tenantId, () => flows.findOneBy({ id: flow.id }));
        if (!found) throw new Error(`${name}: the tenant's flow ${flow.id} was not found`);
      },
      options,
    );
  } finally {
    await app.close();
  }
}

async function httpRead(name: string, url: string, data: Dataset, options: Options): Promise<Measurement> {
  const app = await startBenchHttpApp(url, options.poolSize);
  let n = 0;
  try {
    return await drive(
      name,
      app.baseUrl,
      () => {
        const flow = data.flows[(n++ * 7919) % data.flows.length];
        return { path: `/flows/${flow.id}`, headers: { 'x-tenant-id': flow.tenantId } };
      },
      { durationMs: options.durationMs, connections: options.concurrency },
    );
  } finally {
    await app.close();
  }
}

/** The module's Citus prelude by hand, then the read with and without `tenant_id = $2`. */
async function routerAgainstFanOut(url: string, data: Dataset, options: Options): Promise<{ router: Measurement; fanOut: Measurement }> {
  const pick = picker(data);
  const pool = new Pool({ connectionString: url, max: options.poolSize });
  const read = (sql: (flow: { id: string; tenantId: string }) => [string, unknown[]]) => async (c: number, i: number) => {
    const flow = pick(c, i);
    const client = await pool.connect();
    try {
      // The tenant id is a UUID from our own seed, not outside input.
      await client.query(
        `BEGIN; SET LOCAL ROLE fdl_app; SET LOCAL citus.propagate_set_commands = 'local'; SET LOCAL app.current_tenant_id = '${flow.tenantId}'`,
      );
      const { rowCount } = await client.query(...sql(flow));
      if (rowCount !== 1) throw new Error(`expected the tenant's flow ${flow.id}, got ${rowCount} rows`);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  };
  try {
    const fanOut = await measure('raw pg on Citus: WHERE id = $1 (RLS alone: every shard)', read((flow) => ['SELECT * FROM flows WHERE id = $1', [flow.id]]), options);
    const router = await measure(
      'raw pg on Citus: WHERE id = $1 AND tenant_id = $2 (one shard)',
      read((flow) => ['SELECT * FROM flows WHERE id = $1 AND tenant_id = $2', [flow.id, flow.tenantId]]),
      options,
    );
    return { router, fanOut };
  } finally {
    await pool.end();
  }
}

import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { INestApplication } from '@nestjs/common';
import { HistoryPartitionsService } from '../../src';
import { type CitusCluster, startCitusCluster } from '../setup/citus-cluster';
import { loadFigures, type LoadReport, type LoadTenant, missingWrites, startWriteLoad } from '../utils/acknowledged-writes';
import { startExampleOnCitus } from '../utils/backends';
import { type CitusDatabase, createCitusDatabase, describeOnCitus, distributionViolations, onNode, withClient } from '../utils/citus';
import { freePort } from '../utils/free-port';
import { archiveInMonth, month, placement, type Seed } from '../utils/history-months';
import { createTenants } from '../utils/tenants';

/**
 * What an operator does to a serving cluster (issue 27), each while the example API writes through
 * the coordinator: add a worker and rebalance, isolate a tenant to a shard of its own and move it,
 * drain a worker and remove it, create history partitions; at Citus's default of 32 shards a table.
 * Shards move in `block_writes` mode: Citus's default (logical replication) cannot write into tables
 * that force row level security (docs/citus-operations.md, "Moving shards"). After each: every acknowledged
 * write reads back as acknowledged, every refusal was a 503 or 409 that says why, each tenant sees
 * only its own rows, and every audit chain verifies.
 */
describeOnCitus('Online operations at 32 shards while the application writes', () => {
  const TENANTS = 24;
  const CLIENTS = 12;
  /** How long the load runs before and after each operation, in milliseconds. */
  const AROUND = 1_500;
  let cluster: CitusCluster;
  let db: CitusDatabase;
  let app: INestApplication;
  let baseUrl: string;
  let tenants: LoadTenant[];
  let addedPort: number;
  /** The last operation's load, for the negative control. */
  let lastReport: LoadReport;

  beforeAll(async () => {
    cluster = await startCitusCluster();
    db = await createCitusDatabase({ basePort: cluster.basePort, shardCount: 32 });
    app = await startExampleOnCitus(db);
    await app.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    const ids = await createTenants(db.url, Array.from({ length: TENANTS }, (_, i) => `online-${i}`));
    tenants = [];
    for (const id of ids) {
      const response = await fetch(`${baseUrl}/flows`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-tenant-id': id },
        body: JSON.stringify({ name: 'online' }),
      });
      tenants.push({ id, flowId: ((await response.json()) as { id: string }).id });
    }
    addedPort = await freePort();
  }, 300_000);
  afterAll(async () => {
    await app?.close();
    await cluster?.stop();
  });

  const sql = <T = Record<string, unknown>>(text: string, values: unknown[] = []) => withClient(db.url, async (c) => (await c.query(text, values)).rows as T[]);

  /** Runs `operation` with the write load on before, during and after it. */
  async function underLoad(operation: () => Promise<unknown>): Promise<LoadReport> {
    const load = startWriteLoad(baseUrl, tenants, CLIENTS);
    let operationMs = 0;
    const done = (async () => {
      await sleep(AROUND);
      const started = performance.now();
      await operation();
      operationMs = performance.now() - started;
      await sleep(AROUND);
    })();
    // The load stops whether the operation failed or not; the operation's failure is the one reported.
    const [outcome, report] = await Promise.all([done.then(() => undefined, (error: unknown) => error), done.catch(() => undefined).then(() => load.stop())]);
    if (outcome) throw outcome;
    lastReport = report;
    // Figures for docs/citus-operations.md, "What the application sees meanwhile (measured)", where asked for: FDL_PRINT_LOAD=1 npx jest test/citus/citus-online-operations.spec.ts
    if (process.env.FDL_PRINT_LOAD) console.log(JSON.stringify({ operationMs: Math.round(operationMs), ...loadFigures(report) }));
    return report;
  }

  /** What must hold after every operation. */
  async function expectNothingLost(report: LoadReport): Promise<void> {
    expect(report.versions.length).toBeGreaterThan(0);
    expect(report.executions.length).toBeGreaterThan(0);
    const unexplained = [...report.refusals.keys()].filter((refusal) => !/^(503|409) \S/.test(refusal));
    expect(unexplained).toEqual([]);
    await expect(missingWrites(baseUrl, report)).resolves.toEqual([]);
    for (const tenant of tenants) {
      const flows = (await (await fetch(`${baseUrl}/flows`, { headers: { 'x-tenant-id': tenant.id } })).json()) as { id: string; tenantId: string }[];
      expect(flows.map((flow) => [flow.id, flow.tenantId])).toEqual([[tenant.flowId, tenant.id]]);
      const chain = (await (await fetch(`${baseUrl}/audit-logs/verify`, { headers: { 'x-tenant-id': tenant.id } })).json()) as { ok: boolean };
      expect({ tenant: tenant.id, chain }).toEqual({ tenant: tenant.id, chain: expect.objectContaining({ ok: true }) });
    }
    await expect(withClient(db.url, distributionViolations)).resolves.toEqual([]);
  }

  it('adds a worker and rebalances onto it', async () => {
    await cluster.addNode(addedPort);
    await onNode(addedPort, 'postgres', (c) => c.query(`CREATE DATABASE "${db.name}"`));
    await onNode(addedPort, db.name, (c) => c.query('CREATE EXTENSION citus'));
    const report = await underLoad(async () => {
      await sql(`SELECT citus_add_node('127.0.0.1', $1)`, [addedPort]);
      await sql(`SELECT citus_rebalance_start(shard_transfer_mode := 'block_writes')`);
      await sql(`SELECT citus_rebalance_wait()`);
    });
    const [{ shards }] = await sql<{ shards: number }>(`SELECT count(*)::int AS shards FROM citus_shards WHERE nodeport = $1`, [addedPort]);
    expect(shards).toBeGreaterThan(0);
    await expectNothingLost(report);
  }, 300_000);

  it('isolates a tenant to a shard of its own and moves that shard to another worker', async () => {
    const tenant = tenants[0];
    const report = await underLoad(async () => {
      const [{ shard }] = await sql<{ shard: string }>(
        `SELECT isolate_tenant_to_new_shard('flows', $1::uuid, 'CASCADE', shard_transfer_mode := 'block_writes') AS shard`,
        [tenant.id],
      );
      const [{ port }] = await sql<{ port: number }>(`SELECT nodeport AS port FROM citus_shards WHERE shardid = $1`, [shard]);
      const [{ target }] = await sql<{ target: number }>(
        `SELECT nodeport AS target FROM pg_dist_node WHERE noderole = 'primary' AND shouldhaveshards AND nodeport <> $1 ORDER BY nodeport LIMIT 1`,
        [port],
      );
      await sql(`SELECT citus_move_shard_placement($1, '127.0.0.1', $2, '127.0.0.1', $3, shard_transfer_mode := 'block_writes')`, [shard, port, target]);
    });
    // The tenant's shard of each table now holds the one hash value of its id.
    const ranges = await sql<{ table: string; single: boolean }>(
      `SELECT s.logicalrelid::text AS table, s.shardminvalue = s.shardmaxvalue AS single
       FROM pg_dist_shard s WHERE s.shardid = get_shard_id_for_distribution_column(s.logicalrelid, $1::uuid)
       AND s.logicalrelid::text IN ('flows', 'flow_versions', 'execution_snapshots', 'audit_logs')`,
      [tenant.id],
    );
    expect(ranges.map((range) => range.single)).toEqual([true, true, true, true]);
    await expectNothingLost(report);
  }, 300_000);

  it('drains the added worker and removes it', async () => {
    const report = await underLoad(async () => {
      await sql(`SELECT citus_drain_node('127.0.0.1', $1, shard_transfer_mode := 'block_writes')`, [addedPort]);
    });
    await sql(`SELECT citus_remove_node('127.0.0.1', $1)`, [addedPort]);
    await expect(sql(`SELECT 1 FROM pg_dist_node WHERE nodeport = $1`, [addedPort])).resolves.toEqual([]);
    await expectNothingLost(report);
  }, 300_000);

  it('creates history partitions at 32 shards while the application writes, moving what the default partition holds of them (issue 27, finding 3)', async () => {
    // Executions archived before any partition existed: the default partition holds this month's and the next.
    const seeds = await sql<Seed>(
      `SELECT DISTINCT ON (tenant_id) tenant_id AS tenant, flow_id AS flow, id AS version FROM flow_versions ORDER BY tenant_id, version LIMIT 8`,
    );
    const archived = [...(await archiveInMonth(db.url, seeds, 0)), ...(await archiveInMonth(db.url, seeds, 1))];
    let created: string[] = [];
    const report = await underLoad(async () => {
      created = await app.get(HistoryPartitionsService).createPartitionsAhead(3);
    });
    expect(created).toEqual([month(0), month(1), month(2), month(3)]);
    const [{ left }] = await sql<{ left: number }>(`SELECT count(*)::int AS left FROM execution_history_default`);
    expect({ left, placed: Object.keys(await placement(db.url)).filter((id) => archived.includes(id)).length }).toEqual({ left: 0, placed: archived.length });
    await expectNothingLost(report);
  }, 300_000);

  it('the read-back finds a write that was acknowledged and is gone (negative control)', async () => {
    const [gone] = lastReport.executions;
    await sql(`DELETE FROM execution_snapshots WHERE tenant_id = $1 AND id = $2`, [gone.tenant, gone.id]);
    await expect(missingWrites(baseUrl, lastReport)).resolves.toEqual([expect.stringMatching(new RegExp(`^execution ${gone.id}: acknowledged version \\d+.*, read 404 `))]);
  });
});

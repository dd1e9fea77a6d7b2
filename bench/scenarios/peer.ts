import { getRepositoryToken } from '@nestjs/typeorm';
import { Pool } from 'pg';
import type { Repository } from 'typeorm';
import { Flow, TenancyService } from '../../src';
import { startBenchContext, startBenchHttpApp } from '../bench-app';
import { compare, measure, type Measurement, type ReportRow } from '../harness';
import { PeerFlowsService, startPeerContext, startPeerHttpApp } from '../peer-app';
import type { Dataset } from './dataset';
import { drive } from './http';

const GROUP = 'peer';
/** What the issue asks of the module against the peer recipe, and against the raw floor. */
const VS_PEER = 1.3;
const VS_RAW_FLOOR = 0.8;

/**
 * The module against the recipe a Nest user would pick instead (bench/peer-app.ts), and against the
 * raw floor of the module's own design: the whole prelude and the statement in one message, then
 * COMMIT (two round trips, the same server work as the module's). Three paths: a service-level
 * primary-key read, GET /flows/:id over HTTP, and the save of a new flow.
 */
export async function peer(url: string, data: Dataset, options: { durationMs: number; concurrency: number; poolSize: number }): Promise<ReportRow[]> {
  const { durationMs, concurrency, poolSize } = options;
  const run = { concurrency, durationMs };
  const pick = (caller: number, iteration: number) => data.flows[(caller * 7919 + iteration) % data.flows.length];
  const tenantOf = (caller: number) => data.tenants[(caller * 17) % data.tenants.length];
  // Unique per tenant (UQ_flows_tenant_name) across writers, warm-ups and measured runs.
  let written = 0;
  const nameOf = (writer: string) => `${writer}-${written++}`;

  // Values are inlined because one simple-protocol message carries several statements only without
  // parameters: they are UUIDs from our own seed and names made here, never outside input.
  const prelude = (tenantId: string) =>
    `BEGIN; SELECT set_config('role', 'fdl_app', true), set_config('app.current_tenant_id', '${tenantId}', true), ` +
    `set_config('statement_timeout', '30000', true), set_config('idle_in_transaction_session_timeout', '60000', true); ` +
    `SELECT fdl_require_active_tenant();`;
  const pool = new Pool({ connectionString: url, max: poolSize });
  // Idle clients are killed when the bench drops its database after a failure: not the error to show.
  pool.on('error', () => undefined);
  const rawInTwo = (sql: (c: number, i: number) => string) => async (c: number, i: number) => {
    const client = await pool.connect();
    try {
      await client.query(sql(c, i));
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  };
  const rawRead = await measure('raw pg: read, prelude + SELECT in 1 message, COMMIT (2 round trips)', rawInTwo((c, i) => {
    const flow = pick(c, i);
    return `${prelude(flow.tenantId)} SELECT * FROM flows WHERE tenant_id = '${flow.tenantId}' AND id = '${flow.id}'`;
  }), run);
  const rawWrite = await measure('raw pg: write, prelude + INSERT in 1 message, COMMIT (2 round trips)', rawInTwo((c, i) => {
    const tenantId = tenantOf(c);
    return `${prelude(tenantId)} INSERT INTO flows (tenant_id, name, description) VALUES ('${tenantId}', '${nameOf('raw')}', NULL) RETURNING *`;
  }), run);
  await pool.end();

  const peerApp = await startPeerContext(url, poolSize);
  const peerFlows = peerApp.get(PeerFlowsService);
  const peerRead = await measure('peer: @Transactional() findOneBy by id', (c, i) => {
    const flow = pick(c, i);
    return peerFlows.get(flow.tenantId, flow.id);
  }, run);
  const peerWrite = await measure('peer: @Transactional() save of a new flow', (c, i) => peerFlows.create(tenantOf(c), nameOf('peer')), run);
  await peerApp.close();

  const moduleApp = await startBenchContext(url, poolSize);
  const tenancy = moduleApp.get(TenancyService);
  const flows = moduleApp.get<Repository<Flow>>(getRepositoryToken(Flow));
  const moduleRead = await measure('module: @InjectRepository findOneBy by id in runInTenant', (c, i) => {
    const flow = pick(c, i);
    return tenancy.runInTenant(flow.tenantId, () => flows.findOneBy({ id: flow.id }));
  }, run);
  const moduleWrite = await measure('module: @InjectRepository save of a new flow in runInTenant', (c, i) =>
    tenancy.runInTenant(tenantOf(c), () => flows.save(flows.create({ name: nameOf('module'), description: null }))), run);
  await moduleApp.close();

  const [peerHttp, moduleHttp] = await httpPair(url, data, { durationMs, connections: concurrency, poolSize });

  const info = (m: Measurement): ReportRow => ({ group: GROUP, ...m });
  return [
    info(rawRead),
    info(peerRead),
    compare(GROUP, moduleRead, peerRead, VS_PEER),
    compare(GROUP, moduleRead, rawRead, VS_RAW_FLOOR),
    info(peerHttp),
    compare(GROUP, moduleHttp, peerHttp, VS_PEER),
    info(rawWrite),
    info(peerWrite),
    compare(GROUP, moduleWrite, peerWrite, VS_PEER),
    compare(GROUP, moduleWrite, rawWrite, VS_RAW_FLOOR),
  ];
}

/** GET a flow by id over HTTP: the peer's controller, then the module's example app. */
async function httpPair(url: string, data: Dataset, options: { durationMs: number; connections: number; poolSize: number }): Promise<[Measurement, Measurement]> {
  let n = 0;
  const request = (prefix: string) => () => {
    const flow = data.flows[(n++ * 7919) % data.flows.length];
    return { path: `${prefix}/${flow.id}`, headers: { 'x-tenant-id': flow.tenantId } };
  };
  const peerApp = await startPeerHttpApp(url, options.poolSize);
  const peerHttp = await drive('peer: HTTP GET /peer/flows/:id', peerApp.baseUrl, request('/peer/flows'), options).finally(() => peerApp.close());
  const moduleApp = await startBenchHttpApp(url, options.poolSize);
  const moduleHttp = await drive('module: HTTP GET /flows/:id through the interceptor', moduleApp.baseUrl, request('/flows'), options).finally(() =>
    moduleApp.close(),
  );
  return [peerHttp, moduleHttp];
}

import { getRepositoryToken } from '@nestjs/typeorm';
import { Pool } from 'pg';
import type { Repository } from 'typeorm';
import { Flow, TenancyService } from '../../src';
import { startBenchContext, startBenchHttpApp } from '../bench-app';
import { compare, type Measurement, measureInterleaved, type ReportRow } from '../harness';
import { PeerFlowsService, startPeerContext, startPeerHttpApp } from '../peer-app';
import type { Dataset } from './dataset';
import { drive } from './http';

const GROUP = 'peer';
/** What the issue asks of the module against the peer recipe, and against the raw floor. */
const VS_PEER = 1.3;
const VS_RAW_FLOOR = 0.8;
/**
 * Slices of the interleaved measurements. This VM's speed swings by a fifth for a second or two at
 * a time: short slices spread such a swing over every contender instead of landing on one.
 */
const SLICE_MS = 250;
const HTTP_SLICE_MS = 500;

/**
 * The module against the recipe a Nest user would pick instead (bench/peer-app.ts), and against the
 * raw floor of the module's own design: the whole prelude and the statement in one message, then
 * COMMIT (two round trips, the same server work as the module's). Three paths: a service-level
 * primary-key read, GET /flows/:id over HTTP, and the save of a new flow.
 */
export async function peer(url: string, data: Dataset, options: { durationMs: number; concurrency: number; poolSize: number }): Promise<ReportRow[]> {
  const { durationMs, concurrency, poolSize } = options;
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
  const threeTrips = async (c: number, i: number) => {
    const flow = pick(c, i);
    const client = await pool.connect();
    try {
      await client.query(prelude(flow.tenantId));
      await client.query('SELECT * FROM flows WHERE tenant_id = $1 AND id = $2', [flow.tenantId, flow.id]);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  };

  const peerApp = await startPeerContext(url, poolSize);
  const peerFlows = peerApp.get(PeerFlowsService);
  const moduleApp = await startBenchContext(url, poolSize);
  const tenancy = moduleApp.get(TenancyService);
  const flows = moduleApp.get<Repository<Flow>>(getRepositoryToken(Flow));
  const interleaved = { concurrency, durationMs, rounds: Math.max(2, Math.round(durationMs / SLICE_MS)) };
  let reads: Measurement[];
  let writes: Measurement[];
  try {
    reads = await measureInterleaved(
      [
        {
          name: 'raw pg: read, prelude + SELECT in 1 message, COMMIT (2 round trips)',
          operation: rawInTwo((c, i) => {
            const flow = pick(c, i);
            return `${prelude(flow.tenantId)} SELECT * FROM flows WHERE tenant_id = '${flow.tenantId}' AND id = '${flow.id}'`;
          }),
        },
        { name: 'raw pg: read, prelude in 1 message, SELECT, COMMIT (3 round trips)', operation: threeTrips },
        { name: 'peer: @Transactional() findOneBy by id', operation: (c, i) => peerFlows.get(pick(c, i).tenantId, pick(c, i).id) },
        {
          name: 'module: @InjectRepository findOneBy by id in runInTenant',
          operation: (c, i) => {
            const flow = pick(c, i);
            return tenancy.runInTenant(flow.tenantId, () => flows.findOneBy({ id: flow.id }));
          },
        },
      ],
      interleaved,
    );
    writes = await measureInterleaved(
      [
        {
          name: 'raw pg: write, prelude + INSERT in 1 message, COMMIT (2 round trips)',
          operation: rawInTwo((c) => {
            const tenantId = tenantOf(c);
            return `${prelude(tenantId)} INSERT INTO flows (tenant_id, name, description) VALUES ('${tenantId}', '${nameOf('raw')}', NULL) RETURNING *`;
          }),
        },
        { name: 'peer: @Transactional() save of a new flow', operation: (c) => peerFlows.create(tenantOf(c), nameOf('peer')) },
        {
          name: 'module: @InjectRepository save of a new flow in runInTenant',
          operation: (c) => tenancy.runInTenant(tenantOf(c), () => flows.save(flows.create({ name: nameOf('module'), description: null }))),
        },
      ],
      interleaved,
    );
  } finally {
    await Promise.all([pool.end(), peerApp.close(), moduleApp.close()]);
  }
  const [rawRead, rawRead3, peerRead, moduleRead] = reads;
  const [rawWrite, peerWrite, moduleWrite] = writes;

  const [peerHttp, moduleHttp] = await httpPair(url, data, { durationMs, connections: concurrency, poolSize });

  const info = (m: Measurement): ReportRow => ({ group: GROUP, ...m });
  return [
    info(rawRead),
    info(rawRead3),
    info(peerRead),
    compare(GROUP, moduleRead, peerRead, VS_PEER),
    compare(GROUP, moduleRead, rawRead, VS_RAW_FLOOR),
    { ...compare(GROUP, moduleRead, rawRead3, VS_RAW_FLOOR), target: undefined, met: undefined },
    info(peerHttp),
    compare(GROUP, moduleHttp, peerHttp, VS_PEER),
    info(rawWrite),
    info(peerWrite),
    compare(GROUP, moduleWrite, peerWrite, VS_PEER),
    compare(GROUP, moduleWrite, rawWrite, VS_RAW_FLOOR),
  ];
}

/**
 * GET a flow by id over HTTP, the peer's controller and the module's example app both listening,
 * driven in alternating slices of HTTP_SLICE_MS (see measureInterleaved). p50 is the median of the
 * slices' p50s, p99 the highest slice p99.
 */
async function httpPair(url: string, data: Dataset, options: { durationMs: number; connections: number; poolSize: number }): Promise<[Measurement, Measurement]> {
  let n = 0;
  const request = (prefix: string) => () => {
    const flow = data.flows[(n++ * 7919) % data.flows.length];
    return { path: `${prefix}/${flow.id}`, headers: { 'x-tenant-id': flow.tenantId } };
  };
  const apps = [await startPeerHttpApp(url, options.poolSize), await startBenchHttpApp(url, options.poolSize)];
  const targets = [
    { name: 'peer: HTTP GET /peer/flows/:id', baseUrl: apps[0].baseUrl, request: request('/peer/flows') },
    { name: 'module: HTTP GET /flows/:id through the interceptor', baseUrl: apps[1].baseUrl, request: request('/flows') },
  ];
  try {
    const slices = targets.map((): Measurement[] => []);
    const rounds = Math.max(2, Math.round(options.durationMs / HTTP_SLICE_MS));
    for (let round = 0; round <= rounds; round++) {
      for (const [index, target] of targets.entries()) {
        const slice = await drive(target.name, target.baseUrl, target.request, { durationMs: HTTP_SLICE_MS, connections: options.connections, warmUp: round === 0 });
        // Round 0 is the warm-up.
        if (round > 0) slices[index].push(slice);
      }
    }
    const [peerHttp, moduleHttp] = targets.map(({ name }, index) => combine(name, slices[index]));
    return [peerHttp, moduleHttp];
  } finally {
    await Promise.all(apps.map((app) => app.close()));
  }
}

function combine(name: string, slices: Measurement[]): Measurement {
  const ops = slices.reduce((sum, s) => sum + s.ops, 0);
  const p50s = slices.map((s) => s.p50Ms).sort((a, b) => a - b);
  return {
    name,
    ops,
    opsPerSec: slices.reduce((sum, s) => sum + s.opsPerSec, 0) / slices.length,
    p50Ms: p50s[Math.floor(p50s.length / 2)],
    p99Ms: Math.max(...slices.map((s) => s.p99Ms)),
  };
}

import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { INestApplication } from '@nestjs/common';
import { getRepositoryToken } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { DatabaseUnavailableError, Flow, TenancyService } from '../../src';
import { type CitusCluster, startCitusCluster } from '../setup/citus-cluster';
import { startExampleOnCitus } from '../utils/backends';
import { type CitusDatabase, createCitusDatabase, describeOnCitus, withClient } from '../utils/citus';
import { foreignRows, type TenantResponse, tenantRequest } from '../utils/tenant-load';
import { createTenants } from '../utils/tenants';

interface Tenant {
  id: string;
  /** The port of the worker holding the tenant's shards. */
  worker: number;
}

type Logged = TenantResponse & { onStoppedWorker: boolean; startedAt: number; endedAt: number };

/** What a 503 says when a worker is down: the worker, never the whole database. */
const WORKER_DOWN = /^database unavailable: a worker node of the Citus cluster /;

/**
 * A worker taken away while the example app serves 20 tenants through the coordinator. The cluster
 * is this file's own (started here on free ports): stopping a worker of the run's shared cluster
 * would fail the other Citus spec files running beside this one, whose databases have shards on
 * both workers.
 */
describeOnCitus('A Citus worker stopped under load', () => {
  const TENANTS = 20;
  const CONCURRENCY = 20;
  /** Requests of each group (tenants on the stopped worker, the others) before, during and after. */
  const PER_PHASE = 60;
  let cluster: CitusCluster;
  let db: CitusDatabase;
  let app: INestApplication;
  let baseUrl: string;
  let tenants: Tenant[];
  let stoppedWorker: number;
  const onStopped = () => tenants.filter((t) => t.worker === stoppedWorker);
  const onOther = () => tenants.filter((t) => t.worker !== stoppedWorker);

  beforeAll(async () => {
    cluster = await startCitusCluster();
    stoppedWorker = cluster.basePort + 1;
    db = await createCitusDatabase({ basePort: cluster.basePort });
    app = await startExampleOnCitus(db);
    await app.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    const ids = await createTenants(db.url, Array.from({ length: TENANTS }, (_, i) => `tenant-${i}`));
    // Where each tenant's shards are (every tenant table is co-located with flows).
    tenants = await withClient(db.url, async (c) => {
      const { rows } = await c.query<{ id: string; worker: number }>(
        `SELECT t.id, s.nodeport AS worker FROM unnest($1::uuid[]) AS t (id)
         JOIN citus_shards s ON s.table_name = 'flows'::regclass AND s.shardid = get_shard_id_for_distribution_column('flows', t.id)`,
        [ids],
      );
      return rows;
    });
  }, 180_000);
  afterAll(async () => {
    await app?.close();
    await cluster?.stop();
  });

  it('both workers hold some of the tenants', () => {
    expect(onStopped().length).toBeGreaterThan(0);
    expect(onOther().length).toBeGreaterThan(0);
  });

  it("tenants on the stopped worker get a 503 naming a worker (so does creating a tenant), the others keep working, GET /health stays 200, all recover, no acknowledged write is lost", async () => {
    const log: Logged[] = [];
    const marks = { stopping: Infinity, stopped: Infinity, starting: Infinity, started: Infinity };
    let loading = true;
    let refusedTenantCreation: { status: number; message?: string } | undefined;
    let healthWhileDown: { status: number; body?: string } | undefined;
    const clients = Array.from({ length: CONCURRENCY }, async (_, k) => {
      for (let i = k; loading; i += CONCURRENCY) {
        const tenant = tenants[i % TENANTS];
        const startedAt = performance.now();
        // Every tenant writes in one round of requests out of four.
        const response = await tenantRequest(baseUrl, tenant.id, Math.floor(i / TENANTS) % 4 === 0 ? `${tenant.id}-w${i}` : undefined);
        log.push({ ...response, onStoppedWorker: tenant.worker === stoppedWorker, startedAt, endedAt: performance.now() });
      }
    });
    // Each phase lasts until both groups of tenants have had enough requests answered in it.
    const enoughSince = async (since: number) => {
      const answered = (stopped: boolean) => log.filter((r) => r.onStoppedWorker === stopped && r.startedAt > since).length;
      while (answered(true) < PER_PHASE || answered(false) < PER_PHASE) await sleep(20);
      return performance.now();
    };
    try {
      await enoughSince(0);
      marks.stopping = performance.now();
      await cluster.stopNode(stoppedWorker);
      marks.stopped = performance.now();
      marks.starting = await enoughSince(marks.stopped);
      // Tenants are a reference table, with a copy on every worker: none can be created meanwhile.
      const created = await fetch(`${baseUrl}/tenants`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'during' }),
      });
      refusedTenantCreation = { status: created.status, message: ((await created.json()) as { message?: string }).message };
      const health = await fetch(`${baseUrl}/health`);
      healthWhileDown = { status: health.status, body: ((await health.json()) as { status?: string }).status };
      await cluster.startNode(stoppedWorker);
      marks.started = performance.now();
      await enoughSince(marks.started);
    } finally {
      loading = false;
      await Promise.all(clients);
      if (marks.started === Infinity) await cluster.startNode(stoppedWorker).catch(() => undefined);
    }

    const before = log.filter((r) => r.endedAt < marks.stopping);
    const down = log.filter((r) => r.startedAt > marks.stopped && r.endedAt < marks.starting);
    const after = log.filter((r) => r.startedAt > marks.started);
    const summary = (responses: Logged[]) => responses.map((r) => `${r.status} ${r.message ?? ''}`.trim());

    // Never another tenant's row, whatever the phase.
    expect(foreignRows(log)).toEqual([]);
    // Tenants on the other worker never notice.
    expect(summary(log.filter((r) => !r.onStoppedWorker && r.status >= 300))).toEqual([]);
    // Tenants on the stopped worker: served before, a 503 that says why while it is down (and only a
    // 503 while it stops or starts), served again once it is back.
    expect(summary(before.filter((r) => r.status >= 300))).toEqual([]);
    expect(new Set(summary(down.filter((r) => r.onStoppedWorker)))).toEqual(
      new Set(['503 database unavailable: a worker node of the Citus cluster holding this data cannot be reached']),
    );
    expect(log.filter((r) => r.status >= 300 && !(r.status === 503 && WORKER_DOWN.test(r.message ?? '')))).toEqual([]);
    expect(summary(after.filter((r) => r.status >= 300))).toEqual([]);
    // The system path (a @WithoutTenant route) says the same.
    expect(refusedTenantCreation).toEqual({
      status: 503,
      message: 'database unavailable: a worker node of the Citus cluster holding this data cannot be reached',
    });
    // Readiness stays up: it checks the coordinator, and failing it would take every tenant out.
    expect(healthWhileDown).toEqual({ status: 200, body: 'ok' });
    // Each phase was really exercised by both groups.
    for (const phase of [before, down, after]) {
      expect(phase.filter((r) => r.onStoppedWorker).length).toBeGreaterThanOrEqual(PER_PHASE);
      expect(phase.filter((r) => !r.onStoppedWorker).length).toBeGreaterThanOrEqual(PER_PHASE);
    }

    // Every acknowledged write is there, read back through the app.
    const acknowledged = log.filter((r) => r.wrote && r.status === 201);
    expect(acknowledged.filter((r) => r.onStoppedWorker).length).toBeGreaterThan(0);
    const stored = new Set<string>();
    for (const tenant of tenants) {
      const listed = await tenantRequest(baseUrl, tenant.id);
      expect(listed.status).toBe(200);
      for (const row of listed.rows) stored.add(`${row.tenantId} ${row.name}`);
    }
    expect(acknowledged.map((r) => `${r.tenantId} ${r.wrote}`).filter((write) => !stored.has(write))).toEqual([]);
    // A write refused before its commit (all but "failed while the transaction committed") left nothing.
    const refused = log.filter((r) => r.wrote && r.status === 503 && !/committed/.test(r.message ?? ''));
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.map((r) => `${r.tenantId} ${r.wrote}`).filter((write) => stored.has(write))).toEqual([]);
  }, 60_000);

  it('a worker stopped while a tenant transaction is open: its commit is a 503 that says the outcome there is unknown', async () => {
    const tenant = onStopped()[0];
    const flows = app.get<Repository<Flow>>(getRepositoryToken(Flow));
    let failure: unknown;
    try {
      failure = await app
        .get(TenancyService)
        .runInTenant(tenant.id, async () => {
          await flows.insert({ name: `${tenant.id}-at-commit` });
          await cluster.stopNode(stoppedWorker);
        })
        .then(() => undefined, (error: unknown) => error);
    } finally {
      await cluster.startNode(stoppedWorker);
    }
    expect(failure).toBeInstanceOf(DatabaseUnavailableError);
    expect((failure as Error).message).toBe(
      'database unavailable: a worker node of the Citus cluster failed while the transaction committed: its writes there may or may not have been saved',
    );
    // And the tenant is served again.
    expect((await tenantRequest(baseUrl, tenant.id)).status).toBe(200);
  }, 60_000);
});

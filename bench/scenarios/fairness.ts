import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { performance } from 'node:perf_hooks';
import { AuditTrail, DatabaseModule, type DatabaseModuleOptions, TenancyService } from '../../src';
import { TenantContext } from '../../src/tenant-context/tenant-context';
import { type Measurement, type ReportRow, runFor, summarise } from '../harness';

const QUIET_CALLERS = 5;
const BUSY_CALLERS = 40;

/** One backend of the fairness group: where it runs, and how long the busy tenant's chain is. */
interface Backend {
  name: 'PostgreSQL' | 'embedded';
  options: DatabaseModuleOptions;
  chainEntries: number;
}

/**
 * A quiet tenant reads one flow by id from 5 callers, alone and then beside a busy tenant that
 * verifies its long audit chain (a CPU-heavy query of ~0.2 s on PostgreSQL) from 40 callers; the
 * busy tenant is measured alone too. Ratios: quiet beside the busy one / quiet alone (p99, rate),
 * and busy beside the quiet one / busy alone (rate). On PostgreSQL and on the embedded database.
 */
export async function fairness(url: string, options: { durationMs: number; poolSize: number }): Promise<ReportRow[]> {
  const backends: Backend[] = [
    { name: 'PostgreSQL', options: { useDatabase: true, url, poolSize: options.poolSize}, chainEntries: 20_000 },
    { name: 'embedded', options: { useDatabase: false }, chainEntries: 2_000 },
  ];
  const rows: ReportRow[] = [];
  for (const backend of backends) rows.push(...(await measureBackend(backend, options.durationMs)));
  return rows;
}

async function measureBackend(backend: Backend, durationMs: number): Promise<ReportRow[]> {
  const app = await NestFactory.createApplicationContext(
    DatabaseModule.forRoot({ readEnvironment: false, acquireTimeout: 60, queryTimeout: 120, ...backend.options }),
    { logger: false },
  );
  try {
    const tenancy = app.get(TenancyService);
    const context = app.get(TenantContext);
    const trail = app.get(AuditTrail);
    const sql = (query: string, params: unknown[] = []) => context.require('bench').manager.query(query, params);
    const { quiet, busy, flow } = await tenancy.runAsSystem(async () => {
      const [q, b] = await sql(`INSERT INTO tenants (name) VALUES ('fair-quiet'), ('fair-busy') RETURNING id`);
      const [f] = await sql(`INSERT INTO flows (tenant_id, name) VALUES ($1, 'quiet flow') RETURNING id`, [q.id]);
      await sql(`INSERT INTO audit_logs (tenant_id, action) SELECT $1, 'bench.entry' FROM generate_series(1, $2)`, [b.id, backend.chainEntries]);
      return { quiet: q.id as string, busy: b.id as string, flow: f.id as string };
    });
    const quietRead = () => tenancy.runInTenant(quiet, () => sql(`SELECT id, name FROM flows WHERE id = $1`, [flow]));
    const busyVerify = () => tenancy.runInTenant(busy, () => trail.verifyChain());

    const [quietAlone] = await run([{ name: 'quiet alone', callers: QUIET_CALLERS, operation: quietRead }], durationMs);
    const [busyAlone] = await run([{ name: 'busy alone', callers: BUSY_CALLERS, operation: busyVerify }], durationMs);
    const [quietShared, busyShared] = await run(
      [
        { name: 'quiet beside busy', callers: QUIET_CALLERS, operation: quietRead },
        { name: 'busy beside quiet', callers: BUSY_CALLERS, operation: busyVerify },
      ],
      durationMs,
    );
    const group = `fairness (${backend.name})`;
    const named = (m: Measurement, name: string): Measurement => ({ ...m, name });
    return [
      { group, ...named(quietAlone, `quiet tenant alone: 5 callers read a flow by id`) },
      { group, ...named(busyAlone, `busy tenant alone: 40 callers verify a ${backend.chainEntries.toLocaleString('en')}-entry audit chain`) },
      ratio(group, named(quietShared, 'quiet tenant beside the busy one: rate'), quietAlone, 'rate', 0.5),
      ratio(group, named(quietShared, 'quiet tenant beside the busy one: p99'), quietAlone, 'p99', 5),
      ratio(group, named(busyShared, 'busy tenant beside the quiet one: rate'), busyAlone, 'rate', 0.7),
    ];
  } finally {
    await app.close();
  }
}

/** The rate (higher is better, target a floor) or the p99 (lower is better, target a ceiling) against a baseline. */
function ratio(group: string, subject: Measurement, baseline: Measurement, what: 'rate' | 'p99', target: number): ReportRow {
  const value = what === 'rate' ? subject.opsPerSec / baseline.opsPerSec : subject.p99Ms / baseline.p99Ms;
  return {
    group,
    ...subject,
    baseline: baseline.name,
    ratio: value,
    target: what === 'rate' ? `≥ ${target}×` : `≤ ${target}× (p99)`,
    met: what === 'rate' ? value >= target : value <= target,
  };
}

/** Runs the operations side by side, each from its own closed-loop callers, for `durationMs` after a warm-up. */
async function run(
  operations: { name: string; callers: number; operation: () => Promise<unknown> }[],
  durationMs: number,
): Promise<Measurement[]> {
  await Promise.all(operations.map(({ callers, operation }) => runFor(operation, callers, durationMs / 4, [])));
  const latencies = operations.map((): number[] => []);
  const started = performance.now();
  // Each group's own elapsed time, to its last caller's end: the busy tenant's last long queries
  // must not stretch the quiet tenant's time (and cut its rate).
  const elapsed = await Promise.all(
    operations.map(async ({ callers, operation }, i) => {
      await runFor(operation, callers, durationMs, latencies[i]);
      return performance.now() - started;
    }),
  );
  return operations.map(({ name }, i) => summarise(name, latencies[i], elapsed[i]));
}

import { Client } from 'pg';
import { startBenchHttpApp } from '../bench-app';
import { seed } from '../bench-database';
import type { ReportRow } from '../harness';
import { drive } from './http';
import { type Dataset, seedSnapshots } from './dataset';

/**
 * GET /executions?limit=50 for one tenant while `execution_snapshots` holds `small` rows, then
 * `large` rows, spread evenly over all tenants. The latency must not grow with the table.
 */
export async function scale(
  url: string,
  data: Dataset,
  options: { small: number; large: number; durationMs: number; connections: number; poolSize: number },
): Promise<{ rows: ReportRow[]; plan: string }> {
  const fill = async (total: number) => {
    const [{ count }] = await seed(url, 'SELECT count(*)::int AS count FROM execution_snapshots');
    const missing = total - (count as number);
    if (missing <= 0) return;
    await seedSnapshots(url, data, missing, {
      status: `(ARRAY['running','paused','completed'])[1 + n % 3]`,
      state: `'{"step": 1}'`,
      created_at: 'now() - make_interval(secs => n)',
      finished_at: 'CASE WHEN n % 3 = 2 THEN now() END',
    });
    // Settle the table (visibility map, statistics) so autovacuum does not run during the measurement.
    await seed(url, 'VACUUM ANALYZE execution_snapshots');
  };
  const measureAt = async (rowsInTable: number, limit = 50, note = '') => {
    await fill(rowsInTable);
    const app = await startBenchHttpApp(url, options.poolSize);
    let n = 0;
    try {
      return await drive(
        `GET /executions?limit=${limit} with ${rowsInTable.toLocaleString('en')} rows${note}`,
        app.baseUrl,
        () => ({ path: `/executions?limit=${limit}`, headers: { 'x-tenant-id': data.tenants[n++ % data.tenants.length] } }),
        options,
      );
    } finally {
      await app.close();
    }
  };
  const small = await measureAt(options.small);
  const large = await measureAt(options.large);
  // At the small size a tenant has fewer rows than a page (10 at 10,000 rows over 1,000 tenants):
  // the same page size at the large size separates the table's growth from the response's.
  const perTenant = Math.floor(options.small / data.tenants.length);
  const samePage = perTenant < 50 ? await measureAt(options.large, perTenant, ` (${perTenant} per page, as many as at ${options.small.toLocaleString('en')})`) : undefined;
  const plan = await explain(url, data.tenants[0]);
  const ratio = large.p50Ms / small.p50Ms;
  return {
    rows: [
      { group: 'scale', ...small },
      { group: 'scale', ...large, baseline: small.name, ratio, target: 'p50 ≤ 1.5× (ratio of p50s)', met: ratio <= 1.5 },
      ...(samePage ? [{ group: 'scale', ...samePage, baseline: small.name, ratio: samePage.p50Ms / small.p50Ms }] : []),
    ],
    plan,
  };
}

/** The plan of the list query as the tenant runs it (role switched, tenant set). */
async function explain(url: string, tenantId: string): Promise<string> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SELECT set_config('role', 'fdl_app', true), set_config('app.current_tenant_id', $1, true)`, [tenantId]);
    const { rows } = await client.query(
      `EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
       SELECT * FROM execution_snapshots ORDER BY created_at DESC, id DESC LIMIT 51`,
    );
    await client.query('ROLLBACK');
    return rows.map((r) => r['QUERY PLAN']).join('\n');
  } finally {
    await client.end();
  }
}

import { Pool } from 'pg';
import { ExecutionsService, TenancyService } from '../../src';
import { startBenchContext } from '../bench-app';
import { seed } from '../bench-database';
import { compare, measure, type ReportRow } from '../harness';
import type { Dataset } from './dataset';

/**
 * The hot path: saving an execution's jsonb state with the optimistic-lock check. Each caller owns
 * one execution (callers spread over the tenants), so no write conflicts with another.
 */
export async function snapshotSave(url: string, data: Dataset, options: { durationMs: number; concurrency: number; poolSize: number }): Promise<ReportRow[]> {
  const { durationMs, concurrency, poolSize } = options;
  const run = { concurrency, durationMs };
  const owned = async () =>
    (await seed(
      url,
      `INSERT INTO execution_snapshots (tenant_id, flow_id, flow_version_id, status)
       SELECT v.tenant_id, v.flow_id, v.id, 'running' FROM unnest($1::uuid[]) AS x(id) JOIN flow_versions v ON v.id = x.id
       RETURNING id, tenant_id AS "tenantId", version`,
      [Array.from({ length: concurrency }, (_, i) => data.versions[(i * data.versions.length) / concurrency | 0].id)],
    )) as { id: string; tenantId: string; version: number }[];
  const state = (i: number) => ({ step: i, vars: { a: i, b: 'x'.repeat(64) }, history: [1, 2, 3] });

  const pool = new Pool({ connectionString: url, max: poolSize });
  const rawExecutions = await owned();
  const raw = await measure('raw pg: tenant tx + version-checked UPDATE, prelude as 1 message', async (c, i) => {
    const execution = rawExecutions[c];
    const client = await pool.connect();
    try {
      await client.query(`BEGIN; SET LOCAL ROLE fdl_app; SELECT set_config('app.current_tenant_id', '${execution.tenantId}', true)`);
      const { rows } = await client.query(
        `UPDATE execution_snapshots SET state = $2, version = version + 1 WHERE id = $1 AND version = $3 RETURNING version`,
        [execution.id, JSON.stringify(state(i)), execution.version],
      );
      await client.query('COMMIT');
      execution.version = rows[0].version;
    } finally {
      client.release();
    }
  }, run);
  await pool.end();

  const app = await startBenchContext(url, poolSize);
  const tenancy = app.get(TenancyService);
  const executions = app.get(ExecutionsService);
  const moduleExecutions = await owned();
  const moduleSave = await measure('module: ExecutionsService.save (audited)', async (c, i) => {
    const execution = moduleExecutions[c];
    const saved = await tenancy.runInTenant(execution.tenantId, () => executions.save(execution.id, state(i), execution.version));
    execution.version = saved.version;
  }, run);
  await app.close();
  return [{ group: 'snapshot save', ...raw }, compare('snapshot save', moduleSave, raw, 0.6)];
}

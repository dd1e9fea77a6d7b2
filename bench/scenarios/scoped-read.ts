import { getRepositoryToken } from '@nestjs/typeorm';
import { Pool } from 'pg';
import type { Repository } from 'typeorm';
import { Flow, TenancyService } from '../../src';
import { startBenchContext } from '../bench-app';
import { migrationDataSource } from '../bench-database';
import { compare, measure, type ReportRow } from '../harness';
import type { Dataset } from './dataset';

/**
 * A primary-key read of one tenant's flow: the module's injected repository inside a tenant
 * context, against raw `pg` doing the same isolation by hand, with a pool of 10 and 20 callers.
 */
export async function scopedRead(url: string, data: Dataset, options: { durationMs: number; concurrency: number; poolSize: number }): Promise<ReportRow[]> {
  const { durationMs, concurrency, poolSize } = options;
  const pick = (caller: number, iteration: number) => data.flows[(caller * 7919 + iteration) % data.flows.length];
  const pool = new Pool({ connectionString: url, max: poolSize });
  const run = { concurrency, durationMs };

  const rawPk = await measure('raw pg: PK select, unscoped', async (c, i) => {
    await pool.query('SELECT * FROM flows WHERE id = $1', [pick(c, i).id]);
  }, run);

  const raw5 = await measure('raw pg: tenant tx, 5 round trips', async (c, i) => {
    const flow = pick(c, i);
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SET LOCAL ROLE fdl_app');
      await client.query(`SELECT set_config('app.current_tenant_id', $1, true)`, [flow.tenantId]);
      await client.query('SELECT * FROM flows WHERE id = $1', [flow.id]);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  }, run);

  const rawMerged = await measure('raw pg: tenant tx, prelude as 1 message', async (c, i) => {
    const flow = pick(c, i);
    const client = await pool.connect();
    try {
      // The baseline may inline the id: it is a UUID from our own seed, not outside input.
      await client.query(`BEGIN; SET LOCAL ROLE fdl_app; SELECT set_config('app.current_tenant_id', '${flow.tenantId}', true)`);
      await client.query('SELECT * FROM flows WHERE id = $1', [flow.id]);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  }, run);
  await pool.end();

  const plain = await migrationDataSource(url).setOptions({ poolSize }).initialize();
  const typeormUnscoped = await measure('TypeORM findOneBy, unscoped', async (c, i) => {
    await plain.getRepository(Flow).findOneBy({ id: pick(c, i).id });
  }, run);
  const naive = await measure('TypeORM QueryRunner tenant tx (naive)', async (c, i) => {
    const flow = pick(c, i);
    const runner = plain.createQueryRunner();
    try {
      await runner.startTransaction();
      await runner.query('SET LOCAL ROLE fdl_app');
      await runner.query(`SELECT set_config('app.current_tenant_id', $1, true)`, [flow.tenantId]);
      await runner.manager.findOneBy(Flow, { id: flow.id });
      await runner.commitTransaction();
    } finally {
      await runner.release();
    }
  }, run);
  await plain.destroy();

  const app = await startBenchContext(url, poolSize);
  const tenancy = app.get(TenancyService);
  const flows = app.get<Repository<Flow>>(getRepositoryToken(Flow));
  const moduleRead = await measure('module: @InjectRepository findOneBy in tenant context', async (c, i) => {
    const flow = pick(c, i);
    await tenancy.runInTenant(flow.tenantId, () => flows.findOneBy({ id: flow.id }));
  }, run);
  await app.close();

  const info = (m: typeof rawPk): ReportRow => ({ group: 'scoped read', ...m });
  return [
    info(rawPk),
    info(typeormUnscoped),
    info(naive),
    info(raw5),
    info(rawMerged),
    compare('scoped read', moduleRead, raw5, 1.0),
    compare('scoped read', moduleRead, rawMerged, 0.6),
  ];
}

import type { Client } from 'pg';
import { SYSTEM_TENANT_ID } from '../../src';
import { archiveBatch } from '../../src/lifecycle/archive-batch';
import { asSystemOnCitus, asTenantOnCitus, type CitusDatabase, createServingCitusDatabase, describeOnCitus, withClient } from '../utils/citus';

/** A chain's entries in order, with whether each hash and link recomputes. */
async function chainOf(c: Client, tenantId: string): Promise<{ position: number; hashOk: boolean; linkOk: boolean }[]> {
  const { rows } = await c.query(
    `SELECT chain_position::int AS position,
            hash = audit_logs_entry_hash(tenant_id, chain_position, previous_hash, actor, action, target_type, target_id, details, created_at) AS "hashOk",
            previous_hash IS NOT DISTINCT FROM lag(hash) OVER (ORDER BY chain_position) AS "linkOk"
     FROM audit_logs WHERE tenant_id = $1 ORDER BY chain_position`,
    [tenantId],
  );
  return rows;
}

/** What the schema enforces by triggers and SECURITY DEFINER functions, on the workers' shards. */
describeOnCitus('Triggers, audit chain, archival and retention on a Citus cluster', () => {
  let db: CitusDatabase;
  let tenant: string;
  let flow: string;
  let version: string;

  beforeAll(async () => {
    db = await createServingCitusDatabase();
    ({ tenant, flow, version } = await asSystemOnCitus(db.url, async (c) => {
      const tenant = (await c.query(`INSERT INTO tenants (name) VALUES ('a') RETURNING id`)).rows[0].id;
      const flow = (await c.query(`INSERT INTO flows (tenant_id, name) VALUES ($1, 'f') RETURNING id`, [tenant])).rows[0].id;
      const version = (
        await c.query(`INSERT INTO flow_versions (tenant_id, flow_id, version, definition, content_hash) VALUES ($1, $2, 1, '{}', repeat('a', 64)) RETURNING id`, [tenant, flow])
      ).rows[0].id;
      return { tenant, flow, version };
    }));
  });
  afterAll(() => db?.drop());

  const asTenant = <T>(work: (c: Client) => Promise<T>, commit = true) => asTenantOnCitus(db.url, tenant, work, commit);
  const newExecution = () =>
    asTenant(async (c) =>
      (await c.query(`INSERT INTO execution_snapshots (tenant_id, flow_id, flow_version_id) VALUES ($1, $2, $3) RETURNING id`, [tenant, flow, version])).rows[0].id as string,
    );

  it('the status graph and the version rule hold on the shards', async () => {
    const id = await newExecution();
    const update = (sql: string) => asTenant((c) => c.query(sql, [tenant, id]), false);
    await expect(update(`UPDATE execution_snapshots SET status = 'running', version = version + 1 WHERE tenant_id = $1 AND id = $2`)).resolves.toMatchObject({ rowCount: 1 });
    await expect(update(`UPDATE execution_snapshots SET status = 'running', version = version + 2 WHERE tenant_id = $1 AND id = $2`)).rejects.toThrow(/version must go from 1 to 2/);
    await expect(update(`UPDATE execution_snapshots SET status = 'paused', version = version + 1 WHERE tenant_id = $1 AND id = $2`)).rejects.toThrow(/cannot go from pending to paused/);
  });

  it('flow versions are immutable and the audit trail append-only, for fdl_system too', async () => {
    // As the superuser owner, whom no grant stops: the triggers on the shards still refuse.
    await expect(withClient(db.url, (c) => c.query(`UPDATE flow_versions SET version = 2 WHERE tenant_id = $1`, [tenant]))).rejects.toThrow(/immutable/);
    await asTenant((c) => c.query(`INSERT INTO audit_logs (tenant_id, actor, action) VALUES ($1, 'x', 'y')`, [tenant]));
    await expect(withClient(db.url, (c) => c.query(`UPDATE audit_logs SET action = 'z' WHERE tenant_id = $1`, [tenant]))).rejects.toThrow(/append-only/);
    await expect(withClient(db.url, (c) => c.query(`DELETE FROM audit_logs WHERE tenant_id = $1`, [tenant]))).rejects.toThrow(/append-only/);
    await expect(withClient(db.url, (c) => c.query(`TRUNCATE audit_logs`))).rejects.toThrow(/append-only/);
  });

  it("each tenant's chain and the system's chain link and verify on their shards", async () => {
    for (let i = 0; i < 5; i++) await asTenant((c) => c.query(`INSERT INTO audit_logs (tenant_id, actor, action) VALUES ($1, 'x', $2)`, [tenant, `step ${i}`]));
    for (let i = 0; i < 3; i++) await asSystemOnCitus(db.url, (c) => c.query(`INSERT INTO audit_logs (tenant_id, actor, action) VALUES ($1, 'system', 'sweep')`, [SYSTEM_TENANT_ID]));
    const tenantChain = await asSystemOnCitus(db.url, (c) => chainOf(c, tenant), false);
    expect(tenantChain.map((e) => e.position)).toEqual(tenantChain.map((_e, i) => i + 1));
    expect(tenantChain.every((e) => e.hashOk && e.linkOk)).toBe(true);
    const systemChain = await asSystemOnCitus(db.url, (c) => chainOf(c, SYSTEM_TENANT_ID), false);
    expect(systemChain).toEqual([1, 2, 3].map((position) => ({ position, hashOk: true, linkOk: true })));
  });

  it('archival moves a tenant\'s finished executions to history in one statement, with its audit entry', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const id = await newExecution();
      await asTenant((c) => c.query(`UPDATE execution_snapshots SET status = 'cancelled', finished_at = now(), version = version + 1 WHERE tenant_id = $1 AND id = $2`, [tenant, id]));
      ids.push(id);
    }
    // archiveBatch runs through a TypeORM manager; a pg client offers the same query(sql, params).
    const moved = await asSystemOnCitus(db.url, (c) =>
      archiveBatch({ query: async (sql: string, params: unknown[]) => (await c.query(sql, params)).rows } as never, {
        tenantId: tenant,
        finishedBefore: new Date(Date.now() + 1000),
        batchSize: 100,
      }),
    );
    expect(moved).toBe(3);
    const where = await asSystemOnCitus(db.url, async (c) => ({
      snapshots: Number((await c.query(`SELECT count(*) FROM execution_snapshots WHERE tenant_id = $1 AND id = ANY($2)`, [tenant, ids])).rows[0].count),
      history: Number((await c.query(`SELECT count(*) FROM execution_history WHERE tenant_id = $1 AND id = ANY($2)`, [tenant, ids])).rows[0].count),
      audited: Number((await c.query(`SELECT count(*) FROM audit_logs WHERE tenant_id = $1 AND action = 'executions.archived'`, [tenant])).rows[0].count),
    }), false);
    expect(where).toEqual({ snapshots: 0, history: 3, audited: 1 });
  });

  it('monthly partitions are created ahead (moving rows out of the default partition) and dropped for retention', async () => {
    const created = await asSystemOnCitus(db.url, async (c) => (await c.query(`SELECT fdl_create_history_partitions(1) AS name`)).rows.map((r) => r.name));
    expect(created).toHaveLength(2);
    const placed = await withClient(db.url, async (c) =>
      (await c.query(`SELECT tableoid::regclass::text AS partition, count(*)::int AS n FROM execution_history GROUP BY 1`)).rows,
    );
    // The three archived above moved out of the default partition into this month's (tableoid names
    // the shard: the partition's name and the shard id).
    expect(placed.map((row) => ({ ...row, partition: row.partition.replace(/_\d+$/, '') }))).toEqual([{ partition: created[0], n: 3 }]);
    const dropped = await asSystemOnCitus(db.url, async (c) => (await c.query(`SELECT fdl_drop_history_partitions_before(now() + interval '3 months') AS name`)).rows.map((r) => r.name));
    expect(dropped.sort()).toEqual(created.sort());
    await expect(asSystemOnCitus(db.url, async (c) => Number((await c.query(`SELECT count(*) FROM execution_history`)).rows[0].count), false)).resolves.toBe(0);
  });
});

import { ArchivalService, FlowVersionsService, HistoryPartitionsService } from '../../src';
import { asSuperuser, asSystem, asTenant } from '../utils/tenant-sql';
import { loginUrl } from '../utils/least-privilege';
import { lifecycleFixture, type LifecycleFixture } from './lifecycle-fixture';

describe(ArchivalService.name, () => {
  let fx: LifecycleFixture;
  let archival: ArchivalService;
  let versions: [string, string];

  /** Inserts `count` finished executions per tenant, finished a day ago; returns all their ids. */
  async function seedFinished(count: number): Promise<string[]> {
    const ids: string[] = [];
    for (const [i, tenantId] of fx.tenants.entries()) {
      const rows = await asTenant(
        fx.db.url,
        tenantId,
        async (c) =>
          (
            await c.query(
              `INSERT INTO execution_snapshots (tenant_id, flow_id, flow_version_id, status, finished_at, created_at)
               SELECT $1, $2, $3, 'completed', now() - interval '1 day', now() - interval '2 days'
               FROM generate_series(1, $4) RETURNING id`,
              [tenantId, fx.flows[i], versions[i], count],
            )
          ).rows,
        true,
      );
      ids.push(...rows.map((r) => r.id));
    }
    return ids;
  }

  const everywhere = () =>
    asSystem(fx.db.url, async (c) => ({
      live: (await c.query(`SELECT id FROM execution_snapshots WHERE finished_at IS NOT NULL`)).rows.map((r) => r.id as string),
      history: (await c.query(`SELECT id FROM execution_history`)).rows.map((r) => r.id as string),
    }));

  function expectEachExactlyOnce(ids: string[], seen: { live: string[]; history: string[] }) {
    const all = [...seen.live, ...seen.history];
    expect(new Set(all).size).toBe(all.length); // no duplicate anywhere
    expect(new Set(all)).toEqual(new Set(ids)); // nothing lost
  }

  beforeAll(async () => {
    fx = await lifecycleFixture({ poolSize: 6 });
    archival = fx.app.get(ArchivalService);
    const flowVersions = fx.app.get(FlowVersionsService);
    versions = (await Promise.all(
      fx.tenants.map((t, i) => fx.tenancy.runInTenant(t, async () => (await flowVersions.publish(fx.flows[i], { v: i })).version.id)),
    )) as [string, string];
  });
  afterAll(() => fx.close());
  beforeEach(() => asSuperuser(fx.db.url, (c) => c.query(`TRUNCATE execution_history; DELETE FROM execution_snapshots`)));

  it('moves one tenant\'s finished executions, in batches, and leaves the other tenant\'s', async () => {
    const ids = await seedFinished(250);
    const result = await archival.archiveFinished(fx.tenants[0], { olderThan: new Date(), batchSize: 100 });
    expect(result).toEqual({ moved: 250, batches: 3 });
    const seen = await everywhere();
    expect(seen.history).toHaveLength(250);
    expect(seen.live).toHaveLength(250);
    expectEachExactlyOnce(ids, seen);
  });

  it('the system path archives every tenant (a batch per tenant at least), and nothing newer than the cut-off', async () => {
    const ids = await seedFinished(50);
    expect(await archival.archiveFinishedForAllTenants({ olderThan: new Date(Date.now() - 3 * 86_400_000) })).toEqual({ moved: 0, batches: 2 });
    expect(await archival.archiveFinishedForAllTenants({ olderThan: new Date(), batchSize: 1000 })).toEqual({ moved: 100, batches: 2 });
    expectEachExactlyOnce(ids, await everywhere());
  });

  it('an archiver killed mid-run (its backend terminated) and run again loses and duplicates nothing', async () => {
    const ids = await seedFinished(3000);
    const run = archival.archiveFinishedForAllTenants({ olderThan: new Date(), batchSize: 400 });
    // Once some batches have committed, terminate the archiver's backend in the middle of another
    // (during one of its statements, or between two of them).
    const killed = await asSuperuser(fx.db.url, async (c) => {
      for (let attempt = 0; attempt < 2000; attempt++) {
        const { rowCount } = await c.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
           WHERE datname = current_database() AND state IN ('active', 'idle in transaction')
             AND query ~ '^\\s*(SELECT id FROM execution_snapshots|INSERT INTO execution_history|DELETE FROM execution_snapshots)'
             AND EXISTS (SELECT FROM execution_history)`, // some batches already committed
        );
        if (rowCount) return true;
      }
      return false;
    });
    expect(killed).toBe(true);
    await expect(run).rejects.toThrow();
    const midway = await everywhere();
    expect(midway.history.length).toBeGreaterThan(0);
    expect(midway.history.length).toBeLessThan(6000);
    expectEachExactlyOnce(ids, midway);

    await archival.archiveFinishedForAllTenants({ olderThan: new Date(), batchSize: 500 });
    const after = await everywhere();
    expect(after.live).toEqual([]);
    expectEachExactlyOnce(ids, after);
  });

  it('two archivers at once split the work without duplicates', async () => {
    const ids = await seedFinished(1500);
    const results = await Promise.all([
      archival.archiveFinishedForAllTenants({ olderThan: new Date(), batchSize: 100 }),
      archival.archiveFinishedForAllTenants({ olderThan: new Date(), batchSize: 100 }),
    ]);
    expect(results[0].moved + results[1].moved).toBe(3000);
    const seen = await everywhere();
    expect(seen.live).toEqual([]);
    expectEachExactlyOnce(ids, seen);
  });
});

describe(HistoryPartitionsService.name, () => {
  let fx: LifecycleFixture;
  let partitions: HistoryPartitionsService;
  beforeAll(async () => {
    fx = await lifecycleFixture();
    partitions = fx.app.get(HistoryPartitionsService);
  });
  afterAll(() => fx.close());

  const partitionNames = () =>
    asSuperuser(fx.db.url, async (c) =>
      (await c.query(`SELECT inhrelid::regclass::text AS name FROM pg_inherits WHERE inhparent = 'execution_history'::regclass ORDER BY 1`)).rows.map((r) => r.name),
    );
  const month = (offset: number) => {
    const d = new Date();
    d.setUTCDate(1);
    d.setUTCMonth(d.getUTCMonth() + offset);
    return `execution_history_y${d.getUTCFullYear()}m${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
  };

  it('creates this month and the next ones, once', async () => {
    expect(await partitions.createPartitionsAhead(2)).toEqual([month(0), month(1), month(2)]);
    expect(await partitions.createPartitionsAhead(2)).toEqual([]);
    expect(await partitionNames()).toEqual([...[month(0), month(1), month(2)], 'execution_history_default'].sort());
  });

  it('drops only the partitions older than the retention, whole', async () => {
    await asSuperuser(loginUrl(fx.db.url, 'owner'), (c) =>
      c.query(`CREATE TABLE execution_history_y2020m01 PARTITION OF execution_history FOR VALUES FROM ('2020-01-01') TO ('2020-02-01')`),
    );
    expect(await partitions.dropHistoryOlderThan(6)).toEqual(['execution_history_y2020m01']);
    expect(await partitionNames()).toContain(month(0));
    expect(await partitions.dropHistoryOlderThan(6)).toEqual([]);
  });

  it('keeps, and warns about, a partition whose upper bound is not a timestamp (MAXVALUE), whatever the cutoff', async () => {
    await asSuperuser(loginUrl(fx.db.url, 'owner'), (c) =>
      c.query(`CREATE TABLE execution_history_open_end PARTITION OF execution_history FOR VALUES FROM ('2100-01-01') TO (MAXVALUE)`),
    );
    const warnings: string[] = [];
    const dropped = await asSystem(fx.db.url, async (c) => {
      c.on('notice', (notice) => warnings.push(notice.message ?? ''));
      const { rows } = await c.query(`SELECT fdl_drop_history_partitions_before(now() + interval '500 years') AS name`);
      return rows.map((row) => row.name);
    }, false);
    expect(dropped).not.toContain('execution_history_open_end');
    expect(warnings).toContainEqual(expect.stringMatching(/execution_history_open_end kept: its bound .*MAXVALUE/));
    expect(await partitionNames()).toContain('execution_history_open_end');
  });

  it('fdl_app cannot read or write a partition directly, only through the parent', async () => {
    await partitions.createPartitionsAhead(0);
    await expect(asTenant(fx.db.url, fx.tenants[0], (c) => c.query(`SELECT * FROM ${month(0)}`))).rejects.toThrow(/permission denied/);
    await expect(asTenant(fx.db.url, fx.tenants[0], (c) => c.query(`SELECT * FROM execution_history`))).resolves.toBeDefined();
  });

  it('only fdl_system may call the partition functions', async () => {
    await expect(asTenant(fx.db.url, fx.tenants[0], (c) => c.query(`SELECT fdl_create_history_partitions(1)`))).rejects.toThrow(/permission denied/);
    await expect(asTenant(fx.db.url, fx.tenants[0], (c) => c.query(`SELECT fdl_drop_history_partitions_before(now())`))).rejects.toThrow(/permission denied/);
  });
});

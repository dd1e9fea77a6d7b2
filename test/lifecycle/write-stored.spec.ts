import { FlowVersionsService, WriteNotStoredError } from '../../src';
import { asSuperuser } from '../utils/tenant-sql';
import { lifecycleFixture, type LifecycleFixture } from './lifecycle-fixture';

/**
 * A write is acknowledged only if it stored what it must (issue 27): a publish whose INSERT stores
 * no row (as on Citus when the tenant's shard moves between its statements) is an error, never a
 * version. Made to happen here with a trigger that skips the row, on both forms of the lifecycle
 * writes: one statement (one node) and router statements (the Citus coordinator's, `citus: true`).
 */
describe.each([
  ['one statement (single node)', false],
  ['router statements (the Citus form)', true],
])('A publish whose INSERT stores nothing: %s', (_, citus) => {
  let fx: LifecycleFixture;
  beforeAll(async () => {
    fx = await lifecycleFixture({ citus });
    await asSuperuser(fx.db.url, async (c) => {
      await c.query(`CREATE FUNCTION skip_row() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END'`);
      await c.query(`CREATE TRIGGER skip_version BEFORE INSERT ON flow_versions FOR EACH ROW EXECUTE FUNCTION skip_row()`);
    });
  });
  afterAll(() => fx.close());

  const stored = () =>
    asSuperuser(fx.db.url, async (c) => {
      const [row] = (
        await c.query(
          `SELECT (SELECT count(*) FROM flow_versions WHERE flow_id = $1)::int AS versions,
                  (SELECT count(*) FROM audit_logs WHERE target_id = $1::text)::int AS audited,
                  (SELECT current_version_id FROM flows WHERE id = $1) AS current`,
          [fx.flows[0]],
        )
      ).rows;
      return row;
    });

  it('is refused, and nothing of it was written', async () => {
    const publish = fx.tenancy.runInTenant(fx.tenants[0], () => fx.app.get(FlowVersionsService).publish(fx.flows[0], { steps: ['a'] }));
    if (citus) await expect(publish).rejects.toBeInstanceOf(WriteNotStoredError);
    else await expect(publish).rejects.toMatchObject({ driverError: { code: '23503', constraint: 'FK_flows_current_version' } });
    await expect(stored()).resolves.toEqual({ versions: 0, audited: 0, current: null });
  });
});

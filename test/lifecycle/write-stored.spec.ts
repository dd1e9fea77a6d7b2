import { ArchivalService, ExecutionsService, ExecutionVersionConflictError, FlowVersionsService, NotFoundInTenantError, WriteNotStoredError } from '../../src';
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

/**
 * The same for executions: a start or a change whose statement stores nothing, though the version or
 * the execution is there at the expected version and status, is {@link WriteNotStoredError} (503),
 * never 404 "not found" for a row that exists, nor 409 for a transition that is allowed.
 */
describe.each([
  ['one statement (single node)', false],
  ['router statements (the Citus form)', true],
])('An execution write that stores nothing: %s', (_, citus) => {
  let fx: LifecycleFixture;
  let executions: ExecutionsService;
  let versionId: string;
  let executionId: string;
  const inTenant = <T>(work: () => Promise<T>) => fx.tenancy.runInTenant(fx.tenants[0], work);

  beforeAll(async () => {
    fx = await lifecycleFixture({ citus });
    executions = fx.app.get(ExecutionsService);
    versionId = (await inTenant(() => fx.app.get(FlowVersionsService).publish(fx.flows[0], { steps: ['a'] }))).version.id;
    executionId = (await inTenant(() => executions.start(versionId))).id;
    await asSuperuser(fx.db.url, async (c) => {
      await c.query(`CREATE FUNCTION skip_row() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END'`);
      await c.query(`CREATE TRIGGER skip_execution_insert BEFORE INSERT ON execution_snapshots FOR EACH ROW EXECUTE FUNCTION skip_row()`);
      await c.query(`CREATE TRIGGER skip_execution_update BEFORE UPDATE ON execution_snapshots FOR EACH ROW EXECUTE FUNCTION skip_row()`);
    });
  });
  afterAll(() => fx.close());

  const stored = () =>
    asSuperuser(fx.db.url, async (c) => {
      const [row] = (
        await c.query(
          `SELECT (SELECT count(*) FROM execution_snapshots WHERE flow_version_id = $1)::int AS executions,
                  (SELECT version FROM execution_snapshots WHERE id = $2) AS version,
                  (SELECT count(*) FROM audit_logs WHERE target_type = 'execution')::int AS audited`,
          [versionId, executionId],
        )
      ).rows;
      return row;
    });

  it('a start of a version that exists is refused as not stored, and nothing of it was written', async () => {
    await expect(inTenant(() => executions.start(versionId))).rejects.toBeInstanceOf(WriteNotStoredError);
    await expect(stored()).resolves.toEqual({ executions: 1, version: 1, audited: 1 });
  });

  it('a start of a version that does not exist is still 404', async () => {
    await expect(inTenant(() => executions.start('00000000-0000-4000-8000-000000000001'))).rejects.toBeInstanceOf(NotFoundInTenantError);
  });

  it('a save at the right version, and a change to a status the execution may take, are refused as not stored', async () => {
    await expect(inTenant(() => executions.save(executionId, { step: 1 }, 1))).rejects.toBeInstanceOf(WriteNotStoredError);
    await expect(inTenant(() => executions.complete(executionId, { ok: true }, 1))).rejects.toBeInstanceOf(WriteNotStoredError);
    await expect(stored()).resolves.toEqual({ executions: 1, version: 1, audited: 1 });
  });

  it('a save at a stale version is still a version conflict', async () => {
    await expect(inTenant(() => executions.save(executionId, { step: 1 }, 7))).rejects.toBeInstanceOf(ExecutionVersionConflictError);
  });
});

/** Archival deletes a live execution only once its archived copy is stored. */
describe.each([
  ['one node', false],
  ['the Citus form', true],
])('An archival batch whose history insert stores nothing: %s', (_, citus) => {
  let fx: LifecycleFixture;
  beforeAll(async () => {
    fx = await lifecycleFixture({ citus });
    const executions = fx.app.get(ExecutionsService);
    await fx.tenancy.runInTenant(fx.tenants[0], async () => {
      const { version } = await fx.app.get(FlowVersionsService).publish(fx.flows[0], { steps: ['a'] });
      for (let i = 0; i < 3; i++) await executions.complete((await executions.start(version.id)).id, { i }, 1);
    });
    await asSuperuser(fx.db.url, async (c) => {
      await c.query(`CREATE FUNCTION skip_row() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END'`);
      await c.query(`CREATE TRIGGER skip_history BEFORE INSERT ON execution_history_default FOR EACH ROW EXECUTE FUNCTION skip_row()`);
    });
  });
  afterAll(() => fx.close());

  it('is refused, and every execution stays live', async () => {
    const archive = fx.app.get(ArchivalService).archiveFinished(fx.tenants[0], { olderThan: new Date(Date.now() + 60_000) });
    await expect(archive).rejects.toMatchObject({ name: 'WriteNotStoredError', message: 'the archive of 3 of 3 executions was not stored: retry the request' });
    const counts = await asSuperuser(fx.db.url, async (c) =>
      (await c.query(`SELECT (SELECT count(*) FROM execution_snapshots)::int AS live, (SELECT count(*) FROM execution_history)::int AS archived`)).rows[0],
    );
    expect(counts).toEqual({ live: 3, archived: 0 });
  });
});

/**
 * A publish holds the flow's row lock, so the version number it takes is free. Where it is not (on
 * Citus, the tenant's shard moved between the lock and the insert, seen while rebalancing), the
 * insert's unique violation means nothing was stored: 503 to retry, not a 409 for the client to give
 * up on. Made to happen here with a trigger that renumbers the new version to 1.
 */
describe.each([
  ['one statement (single node)', false],
  ['router statements (the Citus form)', true],
])('A publish whose version number is taken meanwhile: %s', (_, citus) => {
  let fx: LifecycleFixture;
  beforeAll(async () => {
    fx = await lifecycleFixture({ citus });
    await fx.tenancy.runInTenant(fx.tenants[0], () => fx.app.get(FlowVersionsService).publish(fx.flows[0], { steps: ['first'] }));
    await asSuperuser(fx.db.url, async (c) => {
      await c.query(`CREATE FUNCTION renumber() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN NEW.version := 1; RETURN NEW; END'`);
      await c.query(`CREATE TRIGGER renumber_version BEFORE INSERT ON flow_versions FOR EACH ROW EXECUTE FUNCTION renumber()`);
    });
  });
  afterAll(() => fx.close());

  it('is refused as not stored, and only the first version is there', async () => {
    const publish = fx.tenancy.runInTenant(fx.tenants[0], () => fx.app.get(FlowVersionsService).publish(fx.flows[0], { steps: ['second'] }));
    await expect(publish).rejects.toBeInstanceOf(WriteNotStoredError);
    const versions = await asSuperuser(fx.db.url, async (c) => (await c.query(`SELECT version FROM flow_versions WHERE flow_id = $1`, [fx.flows[0]])).rows);
    expect(versions).toEqual([{ version: 1 }]);
  });
});

import {
  ExecutionsService,
  ExecutionVersionConflictError,
  FlowVersionsService,
  IllegalExecutionTransitionError,
  InvalidCursorError,
  NotFoundInTenantError,
} from '../../src';
import { asSuperuser, asSystem } from '../utils/tenant-sql';
import { lifecycleFixture, type LifecycleFixture } from './lifecycle-fixture';

describe(ExecutionsService.name, () => {
  let fx: LifecycleFixture;
  let executions: ExecutionsService;
  let versionA: string;
  let tenantA: string;
  const inA = <T>(work: () => Promise<T>) => fx.tenancy.runInTenant(tenantA, work);

  beforeAll(async () => {
    fx = await lifecycleFixture({ poolSize: 12 });
    executions = fx.app.get(ExecutionsService);
    tenantA = fx.tenants[0];
    const published = await inA(() => fx.app.get(FlowVersionsService).publish(fx.flows[0], { steps: ['a'] }));
    versionA = published.version.id;
  });
  afterAll(() => fx.close());

  it('starts a running execution of a version at version 1', async () => {
    const execution = await inA(() => executions.start(versionA, { order: 7 }));
    expect(execution).toMatchObject({ status: 'running', version: 1, input: { order: 7 }, state: {}, tenantId: tenantA, flowId: fx.flows[0] });
  });

  it("refuses to start another tenant's version", async () => {
    await expect(fx.tenancy.runInTenant(fx.tenants[1], () => executions.start(versionA))).rejects.toBeInstanceOf(NotFoundInTenantError);
  });

  it('saves state with the expected version and bumps it', async () => {
    const started = await inA(() => executions.start(versionA));
    const saved = await inA(() => executions.save(started.id, { step: 1 }, 1));
    expect(saved).toMatchObject({ version: 2, state: { step: 1 }, status: 'running' });
  });

  it('of concurrent saves with the same expected version exactly one wins; the others conflict and write nothing', async () => {
    const started = await inA(() => executions.start(versionA));
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => inA(() => executions.save(started.id, { writer: i }, 1))),
    );
    const won = outcomes.filter((o) => o.status === 'fulfilled');
    const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost.map((o) => o.reason)).toEqual(Array(9).fill(expect.any(ExecutionVersionConflictError)));
    const final = await inA(() => executions.get(started.id));
    expect(final.version).toBe(2);
    expect(final.state).toEqual((won[0] as PromiseFulfilledResult<{ state: unknown }>).value.state);
  });

  it('a stale save reports the current version', async () => {
    const started = await inA(() => executions.start(versionA));
    await inA(() => executions.save(started.id, { n: 1 }, 1));
    await expect(inA(() => executions.save(started.id, { n: 2 }, 1))).rejects.toMatchObject({ expectedVersion: 1, currentVersion: 2 });
  });

  it('completes, then refuses to go back to running or to save again', async () => {
    const started = await inA(() => executions.start(versionA));
    const done = await inA(() => executions.complete(started.id, { ok: true }, 1));
    expect(done).toMatchObject({ status: 'completed', version: 2, output: { ok: true }, finishedAt: expect.any(Date) });
    await expect(inA(() => executions.update(started.id, { status: 'running' }, 2))).rejects.toBeInstanceOf(IllegalExecutionTransitionError);
    await expect(inA(() => executions.save(started.id, {}, 2))).rejects.toThrow('execution status cannot go from completed to completed');
  });

  it('fail and cancel finish an execution', async () => {
    const a = await inA(() => executions.start(versionA));
    const b = await inA(() => executions.start(versionA));
    await expect(inA(() => executions.fail(a.id, { message: 'boom' }, 1))).resolves.toMatchObject({ status: 'failed', error: { message: 'boom' } });
    await expect(inA(() => executions.cancel(b.id, 'user asked', 1))).resolves.toMatchObject({ status: 'cancelled', error: { reason: 'user asked' } });
  });

  it('the database refuses an illegal transition or a version not raised by one, even for the superuser', async () => {
    const started = await inA(() => executions.start(versionA));
    await inA(() => executions.complete(started.id, {}, 1));
    await expect(
      asSuperuser(fx.db.url, (c) => c.query(`UPDATE execution_snapshots SET status = 'running', finished_at = NULL, version = version + 1 WHERE id = $1`, [started.id])),
    ).rejects.toThrow('execution status cannot go from completed to running');
    const live = await inA(() => executions.start(versionA));
    await expect(
      asSuperuser(fx.db.url, (c) => c.query(`UPDATE execution_snapshots SET state = '{}' WHERE id = $1`, [live.id])),
    ).rejects.toThrow('execution version must go from 1 to 2, not 1');
  });

  it('lists latest first with a keyset cursor that neither skips nor repeats', async () => {
    const listed: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await inA(() => executions.list({ limit: 3, cursor }));
      listed.push(...page.items.map((e) => e.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    const expected = await asSystem(fx.db.url, async (c) =>
      (await c.query(`SELECT id FROM execution_snapshots WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC`, [tenantA])).rows.map((r) => r.id),
    );
    expect(listed).toEqual(expected);
    const running = await inA(() => executions.list({ status: 'running', limit: 500 }));
    expect(running.items.every((e) => e.status === 'running')).toBe(true);
    await expect(inA(() => executions.list({ cursor: 'garbage' }))).rejects.toBeInstanceOf(InvalidCursorError);
  });

  it('audits every write with a before/after summary', async () => {
    const started = await inA(() => executions.start(versionA));
    await inA(() => executions.complete(started.id, {}, 1));
    const details = await asSystem(fx.db.url, async (c) =>
      (await c.query(`SELECT action, details FROM audit_logs WHERE target_id = $1 ORDER BY chain_position`, [started.id])).rows,
    );
    expect(details).toEqual([
      { action: 'execution.started', details: { flowVersionId: versionA, status: 'running' } },
      { action: 'execution.completed', details: { status: { from: 'running', to: 'completed' }, version: { from: 1, to: 2 } } },
    ]);
  });
});

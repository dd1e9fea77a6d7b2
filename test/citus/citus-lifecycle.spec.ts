import type { INestApplication } from '@nestjs/common';
import { getRepositoryToken } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import {
  AuditTrail,
  DatabaseModule,
  ExecutionsService,
  ExecutionVersionConflictError,
  Flow,
  FlowVersionsService,
  IllegalExecutionTransitionError,
  NotFoundInTenantError,
  TenancyService,
} from '../../src';
import { ClusterTopology } from '../../src/cluster/cluster-topology';
import { bootApp } from '../utils/apps';
import { asSystemOnCitus, type CitusDatabase, createServingCitusDatabase, describeOnCitus, withClient } from '../utils/citus';
import { lifecycleWrites, tenantStatementsOf } from '../utils/routed-statements';

/** The `Task Count: n` figures of an EXPLAIN output: one per distributed scan. */
const taskCounts = (plan: { 'QUERY PLAN': string }[]) =>
  plan.map((row) => /Task Count: (\d+)/.exec(row['QUERY PLAN'])?.[1]).filter((n): n is string => n !== undefined).map(Number);

/** The lifecycle services through the coordinator of a real cluster: every write works, audited, each statement on one shard. */
describeOnCitus('Lifecycle writes on a Citus coordinator', () => {
  let db: CitusDatabase;
  let app: INestApplication;
  let tenancy: TenancyService;
  let versions: FlowVersionsService;
  let executions: ExecutionsService;
  const seeds: { tenant: string; flow: string }[] = [];
  const [A, B] = [0, 1];
  const flows = () => app.get<Repository<Flow>>(getRepositoryToken(Flow));
  const inTenant = <T>(i: number, work: () => Promise<T>) => tenancy.runInTenant(seeds[i].tenant, work);
  const auditOf = (targetId: string) =>
    asSystemOnCitus(db.url, async (c) =>
      (await c.query(`SELECT tenant_id, action, details FROM audit_logs WHERE target_id = $1 ORDER BY chain_position`, [targetId])).rows,
    );
  const startIn = async (i: number) => {
    const { version } = await inTenant(i, () => versions.publish(seeds[i].flow, { steps: ['run'] }));
    return inTenant(i, () => executions.start(version.id, { n: 1 }));
  };

  beforeAll(async () => {
    db = await createServingCitusDatabase();
    for (const name of ['a', 'b']) {
      seeds.push(
        await asSystemOnCitus(db.url, async (c) => {
          const tenant = (await c.query(`INSERT INTO tenants (name) VALUES ($1) RETURNING id`, [name])).rows[0].id;
          const flow = (await c.query(`INSERT INTO flows (tenant_id, name) VALUES ($1, 'f') RETURNING id`, [tenant])).rows[0].id;
          return { tenant, flow };
        }),
      );
    }
    app = await bootApp(DatabaseModule.forRoot({ useDatabase: true, url: db.url, readEnvironment: false, poolSize: 4 }));
    tenancy = app.get(TenancyService);
    versions = app.get(FlowVersionsService);
    executions = app.get(ExecutionsService);
    expect(app.get(ClusterTopology).isCitus).toBe(true);
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('publishes gap-free versions, makes the published one current, and returns an identical definition instead of storing it again', async () => {
    const { flow } = seeds[A];
    const first = await inTenant(A, () => versions.publish(flow, { steps: ['p1'] }));
    const second = await inTenant(A, () => versions.publish(flow, { steps: ['p2'] }));
    const again = await inTenant(A, () => versions.publish(flow, { steps: ['p1'] }));
    expect(first).toMatchObject({ created: true, version: { flowId: flow, tenantId: seeds[A].tenant, definition: { steps: ['p1'] } } });
    expect(second).toMatchObject({ created: true, version: { version: first.version.version + 1 } });
    expect(again).toEqual({ created: false, version: expect.objectContaining({ id: first.version.id, version: first.version.version }) });
    const current = await asSystemOnCitus(db.url, async (c) => (await c.query(`SELECT current_version_id FROM flows WHERE id = $1`, [flow])).rows[0]);
    expect(current.current_version_id).toBe(first.version.id);
    expect((await auditOf(flow)).slice(-3)).toEqual([
      { tenant_id: seeds[A].tenant, action: 'flow.version_published', details: { version: first.version.version, contentHash: first.version.contentHash, created: true } },
      { tenant_id: seeds[A].tenant, action: 'flow.version_published', details: { version: second.version.version, contentHash: second.version.contentHash, created: true } },
      { tenant_id: seeds[A].tenant, action: 'flow.version_published', details: { version: first.version.version, contentHash: first.version.contentHash, created: false } },
    ]);
  });

  it('starts, saves, pauses, resumes and completes an execution, each write audited with its before and after', async () => {
    const started = await startIn(A);
    expect(started).toMatchObject({ status: 'running', version: 1, input: { n: 1 }, tenantId: seeds[A].tenant });
    const saved = await inTenant(A, () => executions.save(started.id, { step: 1 }, 1));
    const paused = await inTenant(A, () => executions.update(started.id, { status: 'paused' }, saved.version));
    const resumed = await inTenant(A, () => executions.update(started.id, { status: 'running', state: { step: 2 } }, paused.version));
    const done = await inTenant(A, () => executions.complete(started.id, { ok: true }, resumed.version));
    expect([saved, paused, resumed]).toEqual([
      expect.objectContaining({ version: 2, status: 'running', state: { step: 1 }, finishedAt: null }),
      expect.objectContaining({ version: 3, status: 'paused', state: { step: 1 } }),
      expect.objectContaining({ version: 4, status: 'running', state: { step: 2 } }),
    ]);
    expect(done).toMatchObject({ version: 5, status: 'completed', output: { ok: true }, finishedAt: expect.any(Date) });
    const step = (action: string, from: string, to: string, version: number) => ({
      tenant_id: seeds[A].tenant,
      action,
      details: { status: { from, to }, version: { from: version - 1, to: version } },
    });
    await expect(auditOf(started.id)).resolves.toEqual([
      { tenant_id: seeds[A].tenant, action: 'execution.started', details: { flowVersionId: started.flowVersionId, status: 'running' } },
      step('execution.saved', 'running', 'running', 2),
      step('execution.updated', 'running', 'paused', 3),
      step('execution.updated', 'paused', 'running', 4),
      step('execution.completed', 'running', 'completed', 5),
    ]);
  });

  it('of concurrent saves with the same expected version exactly one wins; the others conflict and write nothing', async () => {
    const started = await startIn(A);
    const outcomes = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => inTenant(A, () => executions.save(started.id, { writer: i }, 1))));
    const won = outcomes.filter((o) => o.status === 'fulfilled');
    const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost.map((o) => o.reason)).toEqual(Array(5).fill(expect.any(ExecutionVersionConflictError)));
    await expect(inTenant(A, () => executions.get(started.id))).resolves.toMatchObject({ version: 2, state: (won[0] as PromiseFulfilledResult<{ state: unknown }>).value.state });
    expect((await auditOf(started.id)).map((row) => row.action)).toEqual(['execution.started', 'execution.saved']);
  });

  it('concurrent publishes of one flow get consecutive numbers, no gap, no duplicate', async () => {
    const { flow } = seeds[B];
    const published = await Promise.all(Array.from({ length: 5 }, (_, i) => inTenant(B, () => versions.publish(flow, { concurrent: i }))));
    const numbers = published.map((p) => p.version.version).sort((x, y) => x - y);
    expect(numbers).toEqual(Array.from({ length: 5 }, (_, i) => numbers[0] + i));
  });

  it('fail and cancel finish an execution', async () => {
    const [a, b] = [await startIn(A), await startIn(A)];
    await expect(inTenant(A, () => executions.fail(a.id, { message: 'boom' }, 1))).resolves.toMatchObject({ status: 'failed', error: { message: 'boom' }, finishedAt: expect.any(Date) });
    await expect(inTenant(A, () => executions.cancel(b.id, 'user asked', 1))).resolves.toMatchObject({ status: 'cancelled', error: { reason: 'user asked' } });
    expect((await auditOf(a.id)).map((row) => row.action)).toEqual(['execution.started', 'execution.failed']);
    expect((await auditOf(b.id)).map((row) => row.action)).toEqual(['execution.started', 'execution.cancelled']);
  });

  it('a stale version and an illegal transition are refused with the same errors, write nothing, and leave the transaction usable', async () => {
    const started = await startIn(A);
    await inTenant(A, async () => {
      await executions.save(started.id, { n: 1 }, 1);
      const stale = executions.save(started.id, { n: 2 }, 1);
      await expect(stale).rejects.toBeInstanceOf(ExecutionVersionConflictError);
      await expect(stale).rejects.toMatchObject({ expectedVersion: 1, currentVersion: 2 });
      await executions.complete(started.id, {}, 2);
      await expect(executions.update(started.id, { status: 'running' }, 3)).rejects.toBeInstanceOf(IllegalExecutionTransitionError);
      await expect(executions.save(started.id, {}, 3)).rejects.toThrow('execution status cannot go from completed to completed');
    });
    await expect(inTenant(A, () => executions.get(started.id))).resolves.toMatchObject({ version: 3, status: 'completed', state: { n: 1 } });
    expect((await auditOf(started.id)).map((row) => row.action)).toEqual(['execution.started', 'execution.saved', 'execution.completed']);
  });

  it("another tenant can neither see nor write a tenant's executions and versions", async () => {
    const started = await startIn(A);
    await expect(inTenant(B, () => executions.get(started.id))).rejects.toBeInstanceOf(NotFoundInTenantError);
    await expect(inTenant(B, () => executions.save(started.id, { stolen: true }, 1))).rejects.toBeInstanceOf(NotFoundInTenantError);
    await expect(inTenant(B, () => executions.cancel(started.id, 'by b', 1))).rejects.toBeInstanceOf(NotFoundInTenantError);
    await expect(inTenant(B, () => executions.start(started.flowVersionId))).rejects.toBeInstanceOf(NotFoundInTenantError);
    await expect(inTenant(B, () => versions.publish(seeds[A].flow, { steps: ['b'] }))).rejects.toBeInstanceOf(NotFoundInTenantError);
    await expect(inTenant(A, () => executions.get(started.id))).resolves.toMatchObject({ version: 1, state: {} });
    expect((await auditOf(started.id)).map((row) => row.tenant_id)).toEqual([seeds[A].tenant]);
    const auditSeenBy = (i: number) => inTenant(i, () => flows().query(`SELECT tenant_id FROM audit_logs WHERE target_id = $1`, [started.id]));
    await expect(auditSeenBy(B)).resolves.toEqual([]);
    await expect(auditSeenBy(A)).resolves.toEqual([{ tenant_id: seeds[A].tenant }]);
  });

  it('a failed audit entry leaves nothing of the write behind', async () => {
    const started = await startIn(A);
    await withClient(db.url, (c) => c.query('REVOKE INSERT ON audit_logs FROM fdl_app'));
    try {
      await expect(inTenant(A, () => executions.save(started.id, { lost: true }, 1))).rejects.toThrow(/permission denied for table audit_logs/);
    } finally {
      await withClient(db.url, (c) => c.query('GRANT INSERT ON audit_logs TO fdl_app'));
    }
    await expect(inTenant(A, () => executions.get(started.id))).resolves.toMatchObject({ version: 1, state: {} });
  });

  it('the system path writes any tenant\'s executions, audited in that tenant\'s chain', async () => {
    const started = await startIn(A);
    const saved = await tenancy.runAsSystem(() => executions.save(started.id, { by: 'system' }, 1));
    expect(saved).toMatchObject({ version: 2, tenantId: seeds[A].tenant });
    const { version } = await tenancy.runAsSystem(() => versions.publish(seeds[A].flow, { by: 'system' }));
    const again = await tenancy.runAsSystem(() => executions.start(version.id));
    expect(again).toMatchObject({ tenantId: seeds[A].tenant, status: 'running' });
    expect((await auditOf(started.id)).map((row) => [row.tenant_id, row.action])).toEqual([
      [seeds[A].tenant, 'execution.started'],
      [seeds[A].tenant, 'execution.saved'],
    ]);
  });

  it("each tenant's audit hash chain verifies, and extends the digest taken before the next write", async () => {
    for (const i of [A, B]) {
      await startIn(i);
      const digest = await inTenant(i, () => app.get(AuditTrail).digest());
      await startIn(i);
      await expect(inTenant(i, () => app.get(AuditTrail).verifyChain({ digest }))).resolves.toMatchObject({
        ok: true,
        digest: { chain: seeds[i].tenant, position: digest.position + 2 },
      });
    }
  });

  it('the worker records the actor the coordinator propagated, and its own clock, whatever the INSERT says', async () => {
    const actor = `o'brien \\ "ops"`;
    const started = await tenancy.runInTenant(seeds[A].tenant, () => startIn(A), { actor });
    const system = await tenancy.runAsSystem(() => app.get(AuditTrail).record({ action: 'test.system', targetId: started.id }), { actor: 'nightly' });
    expect(system).toBeUndefined();
    const rows = await asSystemOnCitus(db.url, async (c) =>
      (await c.query(`SELECT tenant_id, actor FROM audit_logs WHERE target_id = $1 ORDER BY created_at`, [started.id])).rows,
    );
    expect(rows.map((row) => row.actor)).toEqual([actor, 'nightly']);
    // Raw SQL naming another actor and a past time, in a tenant transaction with no actor set.
    await asSystemOnCitus(db.url, (c) =>
      c.query(`INSERT INTO audit_logs (tenant_id, actor, action, target_id, created_at) VALUES ($1, 'mallory', 'test.raw', $2, '2001-01-01')`, [
        seeds[B].tenant,
        started.id,
      ]),
    );
    const [raw] = await asSystemOnCitus(db.url, async (c) =>
      (await c.query(`SELECT actor, created_at > now() - interval '1 hour' AS recent FROM audit_logs WHERE action = 'test.raw'`)).rows,
    );
    expect(raw).toEqual({ actor: 'unknown', recent: true });
  });

  describe('each statement the lifecycle writes send goes to one shard (EXPLAIN: Task Count: 1)', () => {
    const writes = () => lifecycleWrites(app, seeds[A]);
    it.each(lifecycleWriteNames())('%s', async (name) => {
      const work = writes().find(([n]) => n === name)![1];
      const plans: { sql: string; tasks: number[] }[] = [];
      const sent = await tenantStatementsOf<{ 'QUERY PLAN': string }[]>(app, seeds[A].tenant, work, async ({ sql, parameters }, query) => {
        plans.push({ sql, tasks: taskCounts(await query(`EXPLAIN ${sql}`, parameters)) });
      });
      expect(sent.length).toBeGreaterThan(0);
      // One figure per distributed step: a single one, of one shard, is a router statement.
      expect(plans).toEqual(plans.map(({ sql }) => ({ sql, tasks: [1] })));
    });
  });
});

/** The writes' names, known before the app boots (it.each needs them at collection). */
function lifecycleWriteNames(): string[] {
  const app = { get: () => ({}) } as unknown as INestApplication;
  return lifecycleWrites(app, { flow: '' }).map(([name]) => name);
}

import type { INestApplication } from '@nestjs/common';
import type { Repository } from 'typeorm';
import {
  AuditTrail,
  ExecutionsService,
  ExecutionVersionConflictError,
  Flow,
  FlowVersionsService,
  IllegalExecutionTransitionError,
  NotFoundInTenantError,
  TenancyService,
} from '../../src';
import { getRepositoryToken } from '@nestjs/typeorm';
import { TenantContext } from '../../src/tenant-context/tenant-context';

/** A statement the module sent on a tenant transaction's connection, with its parameters. */
export interface SentStatement {
  sql: string;
  parameters: unknown[];
}

const TENANT_TABLES = /\b(flows|flow_versions|execution_snapshots|execution_history|audit_logs)\b/;

/**
 * Runs `work` as `tenantId` and returns the statements it sent that touch a tenant table; `inspect`
 * is called with each, inside the same transaction (to EXPLAIN it with the tenant set).
 */
export async function tenantStatementsOf<T>(
  app: INestApplication,
  tenantId: string,
  work: () => Promise<unknown>,
  inspect: (statement: SentStatement, query: (sql: string, parameters: unknown[]) => Promise<T>) => Promise<void> = async () => undefined,
): Promise<SentStatement[]> {
  const context = app.get(TenantContext);
  return app.get(TenancyService).runInTenant(tenantId, async () => {
    const runner = context.require('test').manager.queryRunner!;
    const query = runner.query.bind(runner) as (sql: string, parameters?: unknown[], ...rest: unknown[]) => Promise<T>;
    const sent: SentStatement[] = [];
    (runner as unknown as { query: unknown }).query = (sql: string, parameters: unknown[] = [], ...rest: unknown[]) => {
      if (TENANT_TABLES.test(sql) && /^\s*(SELECT|WITH|UPDATE|DELETE|INSERT)\b/i.test(sql)) sent.push({ sql, parameters });
      return query(sql, parameters, ...rest);
    };
    try {
      await work();
    } finally {
      delete (runner as unknown as { query?: unknown }).query;
    }
    for (const statement of sent) await inspect(statement, (sql, parameters) => query(sql, parameters));
    return sent;
  });
}

/** What a tenant's code does with the module: each repository operation and lifecycle call, by name. */
export function tenantOperations(
  app: INestApplication,
  ids: { flow: string; otherTenantsFlow: string; execution: string },
): [string, () => Promise<unknown>][] {
  const flows = app.get<Repository<Flow>>(getRepositoryToken(Flow));
  const versions = app.get(FlowVersionsService);
  const executions = app.get(ExecutionsService);
  const audit = app.get(AuditTrail);
  const scratch = async () => flows.save(flows.create({ name: `scratch-${Math.random()}` }));
  return [
    ['find', () => flows.find()],
    ['findBy', () => flows.findBy({ name: 'f' })],
    ['findAndCount', () => flows.findAndCount({ where: { name: 'f' }, take: 5 })],
    ['findOne', () => flows.findOne({ where: { id: ids.flow } })],
    ['findOneBy', () => flows.findOneBy({ id: ids.flow })],
    ['findOneByOrFail', () => flows.findOneByOrFail({ id: ids.flow })],
    ['count', () => flows.count()],
    ['exists', () => flows.exists({ where: { id: ids.flow } })],
    ['existsBy', () => flows.existsBy({ id: ids.otherTenantsFlow })],
    ['update', () => flows.update({ id: ids.flow }, { description: 'updated' })],
    ['delete', async () => flows.delete({ id: (await scratch()).id })],
    ['save (insert)', () => scratch()],
    ['save (update)', async () => {
      const flow = await flows.findOneByOrFail({ id: ids.flow });
      flow.description = 'saved';
      return flows.save(flow);
    }],
    ['remove', async () => flows.remove(await scratch())],
    ['insert', () => flows.insert({ name: `inserted-${Math.random()}` })],
    ['createQueryBuilder select', () => flows.createQueryBuilder('f').where('f.name = :name', { name: 'f' }).getMany()],
    ['createQueryBuilder update', () => flows.createQueryBuilder().update().set({ description: 'qb' }).where('id = :id', { id: ids.flow }).execute()],
    ['createQueryBuilder delete', async () => {
      const { id } = await scratch();
      return flows.createQueryBuilder().delete().where('id = :id', { id }).execute();
    }],
    ['ExecutionsService get/list', async () => {
      await executions.get(ids.execution);
      return executions.list({ status: 'running', limit: 2 });
    }],
    ['AuditTrail record/verifyChain', async () => {
      await audit.record({ action: 'test.routed' });
      return audit.verifyChain();
    }],
  ];
}

/**
 * The lifecycle services' writes, each with its audit entry, and their refusals (which read once
 * more to say why): on Citus, router statements (src/lifecycle/audited-write.ts).
 */
export function lifecycleWrites(app: INestApplication, ids: { flow: string }): [string, () => Promise<unknown>][] {
  const versions = app.get(FlowVersionsService);
  const executions = app.get(ExecutionsService);
  const started = async () => executions.start((await versions.publish(ids.flow, { steps: ['run'] })).version.id, { n: 1 });
  return [
    ['FlowVersionsService.publish (new version)', () => versions.publish(ids.flow, { steps: [Math.random()] })],
    ['FlowVersionsService.publish (already published)', () => versions.publish(ids.flow, { steps: ['run'] })],
    ['ExecutionsService.start', () => started()],
    ['ExecutionsService save/update/complete, and a version conflict', async () => {
      const execution = await started();
      const saved = await executions.save(execution.id, { step: 1 }, 1);
      await expectRejection(executions.save(execution.id, { step: 2 }, 1), ExecutionVersionConflictError);
      const paused = await executions.update(execution.id, { status: 'paused' }, saved.version);
      const resumed = await executions.update(execution.id, { status: 'running', state: { step: 3 } }, paused.version);
      return executions.complete(execution.id, { ok: true }, resumed.version);
    }],
    ['ExecutionsService.fail, and an illegal transition', async () => {
      const execution = await started();
      await executions.fail(execution.id, { message: 'boom' }, 1);
      await expectRejection(executions.update(execution.id, { status: 'running' }, 2), IllegalExecutionTransitionError);
    }],
    ['ExecutionsService.cancel', async () => executions.cancel((await started()).id, 'user asked', 1)],
    ["ExecutionsService.start of another tenant's version", async () => {
      await expectRejection(executions.start('00000000-0000-4000-8000-000000000000'), NotFoundInTenantError);
    }],
  ];
}

async function expectRejection(promise: Promise<unknown>, type: new (...args: never[]) => Error): Promise<void> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  if (!(error instanceof type)) throw new Error(`expected ${type.name}, got ${String(error)}`);
}

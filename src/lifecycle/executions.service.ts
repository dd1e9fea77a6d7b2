import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ClusterTopology } from '../cluster/cluster-topology';
import { ExecutionSnapshot, type ExecutionStatus } from '../entities';
import { routingTenantOf, tenantIs } from '../transaction/routing-tenant';
import type { ScopedTransaction } from '../transaction/scoped-transaction';
import { TenantContext } from '../tenant-context/tenant-context';
import { auditedWrite } from './audited-write';
import { isFinished, statusesLeadingTo } from './execution-transitions';
import {
  ExecutionVersionConflictError,
  IllegalExecutionTransitionError,
  InvalidCursorError,
  NotFoundInTenantError,
  WriteNotStoredError,
} from './lifecycle.errors';
import { selectList, toEntity } from './select-list';

/** Options of {@link ExecutionsService.list}. */
export interface ListExecutionsOptions {
  status?: ExecutionStatus;
  /** 1–500. Default: 50. */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

/** One page of executions, latest first. */
export interface ExecutionPage {
  items: ExecutionSnapshot[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

interface Change {
  to?: ExecutionStatus;
  state?: unknown;
  output?: unknown;
  error?: unknown;
}

const LIVE_STATUSES: ExecutionStatus[] = ['pending', 'running', 'paused'];

/**
 * The live state of executions: start, save after every step (the hot path), finish. Every write
 * is version-checked (optimistic locking) and audited in the caller's transaction: on one node in
 * one statement, one round trip beyond the tenant prelude; on Citus as router statements
 * (audited-write.ts).
 */
@Injectable()
export class ExecutionsService {
  private readonly columns: string;
  /** The same columns, qualified by the alias a write's RETURNING names its target with. */
  private readonly columnsOf: { e: string; s: string };

  constructor(
    private readonly context: TenantContext,
    private readonly topology: ClusterTopology,
    dataSource: DataSource,
  ) {
    this.columns = selectList(dataSource, ExecutionSnapshot);
    this.columnsOf = { e: selectList(dataSource, ExecutionSnapshot, 'e'), s: selectList(dataSource, ExecutionSnapshot, 's') };
  }

  /** Creates a running execution of `flowVersionId` (which must be the current tenant's). */
  async start(flowVersionId: string, input: unknown = {}): Promise<ExecutionSnapshot> {
    const transaction = this.context.require('ExecutionsService.start');
    // The id is made here, not by the column's default: Citus sends an INSERT … SELECT to the
    // tenant's shard only when nothing in it is volatile (gen_random_uuid() would pull it through
    // the coordinator). The target's alias is for Citus too: it deparses an unaliased RETURNING wrong.
    const [row] = await auditedWrite(transaction.manager, this.topology, {
      write: {
        text: `INSERT INTO execution_snapshots AS e (id, tenant_id, flow_id, flow_version_id, status, input)
               SELECT $1, tenant_id, flow_id, id, 'running', $3 FROM flow_versions WHERE id = $2 AND ${tenantIs('$4')}
               RETURNING ${this.columnsOf.e}`,
        values: [randomUUID(), flowVersionId, JSON.stringify(input ?? {}), routingTenantOf(transaction)],
      },
      audit: {
        action: 'execution.started',
        targetType: 'execution',
        tenantColumn: 'tenantId',
        targetColumn: 'id',
        details: (row) => `jsonb_build_object('flowVersionId', ${row('flowVersionId', 'uuid')}, 'status', ${row('status', 'text')})`,
      },
    });
    if (!row) throw await this.explainNotStarted(transaction, flowVersionId);
    return toEntity(ExecutionSnapshot, row);
  }

  /** Only on the refusal path: a version that is there and stored no execution is no 404. */
  private async explainNotStarted(transaction: ScopedTransaction, flowVersionId: string): Promise<Error> {
    const [version] = await transaction.manager.query(`SELECT 1 FROM flow_versions WHERE id = $1 AND ${tenantIs('$2')}`, [
      flowVersionId,
      routingTenantOf(transaction),
    ]);
    return version ? new WriteNotStoredError('the execution') : new NotFoundInTenantError('flow version');
  }

  async get(id: string): Promise<ExecutionSnapshot> {
    const transaction = this.context.require('ExecutionsService.get');
    const [row] = await transaction.manager.query(`SELECT ${this.columns} FROM execution_snapshots WHERE id = $1 AND ${tenantIs('$2')}`, [
      id,
      routingTenantOf(transaction),
    ]);
    if (!row) throw new NotFoundInTenantError('execution');
    return toEntity(ExecutionSnapshot, row);
  }

  /** Latest first, by keyset pagination on (created_at, id): stable under concurrent inserts. */
  async list(options: ListExecutionsOptions = {}): Promise<ExecutionPage> {
    const transaction = this.context.require('ExecutionsService.list');
    const limit = Math.min(Math.max(Math.trunc(options.limit ?? 50), 1), 500);
    const params: unknown[] = [routingTenantOf(transaction)];
    const conditions: string[] = [tenantIs('$1')];
    if (options.status) {
      params.push(options.status);
      conditions.push(`status = $${params.length}`);
    }
    if (options.cursor) {
      const [micros, id] = decodeCursor(options.cursor);
      params.push(micros, id);
      conditions.push(
        `(created_at, id) < (timestamptz 'epoch' + $${params.length - 1}::bigint * interval '1 microsecond', $${params.length}::uuid)`,
      );
    }
    params.push(limit + 1);
    const rows: (Record<string, unknown> & { cursorKey: string })[] = await transaction.manager.query(
      `SELECT ${this.columns}, (extract(epoch FROM created_at) * 1000000)::bigint::text AS "cursorKey"
       FROM execution_snapshots
       WHERE ${conditions.join(' AND ')}
       ORDER BY created_at DESC, id DESC
       LIMIT $${params.length}`,
      params,
    );
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map(({ cursorKey: _, ...row }) => toEntity(ExecutionSnapshot, row)),
      nextCursor: rows.length > limit && last ? encodeCursor(last.cursorKey, String(last.id)) : null,
    };
  }

  /** Saves the state after a step. Fails with {@link ExecutionVersionConflictError} if someone wrote first. */
  save(id: string, state: unknown, expectedVersion: number): Promise<ExecutionSnapshot> {
    return this.write(id, expectedVersion, { state }, 'execution.saved');
  }

  /** Changes the status (and optionally the state) under the same version check. */
  update(id: string, change: { state?: unknown; status?: ExecutionStatus }, expectedVersion: number): Promise<ExecutionSnapshot> {
    return this.write(id, expectedVersion, { state: change.state, to: change.status }, 'execution.updated');
  }

  complete(id: string, output: unknown, expectedVersion: number): Promise<ExecutionSnapshot> {
    return this.write(id, expectedVersion, { to: 'completed', output }, 'execution.completed');
  }

  fail(id: string, error: unknown, expectedVersion: number): Promise<ExecutionSnapshot> {
    return this.write(id, expectedVersion, { to: 'failed', error }, 'execution.failed');
  }

  cancel(id: string, reason: string, expectedVersion: number): Promise<ExecutionSnapshot> {
    return this.write(id, expectedVersion, { to: 'cancelled', error: { reason } }, 'execution.cancelled');
  }

  private async write(id: string, expectedVersion: number, change: Change, action: string): Promise<ExecutionSnapshot> {
    const transaction = this.context.require(`ExecutionsService (${action})`);
    const from = change.to ? statusesLeadingTo(change.to) : LIVE_STATUSES;
    const json = (value: unknown) => (value === undefined ? null : JSON.stringify(value));
    // Only a change to a finished status sets finished_at (a save requires a live status and keeps
    // it), so the text says whether, rather than a CASE: Citus refuses now() inside CASE in an UPDATE.
    // The self-join reads the status the row had, for the audit entry: RETURNING sees only the new.
    const [row] = await auditedWrite(transaction.manager, this.topology, {
      write: {
        text: `UPDATE execution_snapshots s SET
                 state = coalesce($3::jsonb, s.state),
                 output = coalesce($4::jsonb, s.output),
                 error = coalesce($5::jsonb, s.error),
                 status = coalesce($6::text, s.status),
                 ${change.to && isFinished(change.to) ? 'finished_at = now(),' : ''}
                 version = s.version + 1
               FROM execution_snapshots previous
               WHERE s.id = $1 AND ${tenantIs('$8', 's')} AND s.version = $2 AND s.status = ANY($7::text[])
                 AND previous.tenant_id = s.tenant_id AND previous.id = s.id
               RETURNING ${this.columnsOf.s}, previous.status AS "previousStatus"`,
        values: [id, expectedVersion, json(change.state), json(change.output), json(change.error), change.to ?? null, from, routingTenantOf(transaction)],
      },
      audit: {
        action,
        targetType: 'execution',
        tenantColumn: 'tenantId',
        targetColumn: 'id',
        details: (row) =>
          `jsonb_build_object('status', jsonb_build_object('from', ${row('previousStatus', 'text')}, 'to', ${row('status', 'text')}),
                              'version', jsonb_build_object('from', ${row('version', 'int')} - 1, 'to', ${row('version', 'int')}))`,
      },
      auditOnly: ['previousStatus'],
    });
    if (!row) throw await this.explainRefusal(transaction, id, expectedVersion, from, change.to);
    return toEntity(ExecutionSnapshot, row);
  }

  /** Only on the refusal path: one more read to say why nothing was written. */
  private async explainRefusal(transaction: ScopedTransaction, id: string, expectedVersion: number, from: ExecutionStatus[], to?: ExecutionStatus): Promise<Error> {
    const [current] = await transaction.manager.query(
      `SELECT status, version FROM execution_snapshots WHERE id = $1 AND ${tenantIs('$2')}`,
      [id, routingTenantOf(transaction)],
    );
    if (!current) return new NotFoundInTenantError('execution');
    if (current.version !== expectedVersion) return new ExecutionVersionConflictError(expectedVersion, current.version);
    if (!from.includes(current.status)) return new IllegalExecutionTransitionError(current.status, to ?? current.status);
    // The row is there, at the version and in a status the change may leave: it should have been written.
    return new WriteNotStoredError("the execution's change");
  }
}

function encodeCursor(micros: string, id: string): string {
  return Buffer.from(`${micros}:${id}`).toString('base64url');
}

function decodeCursor(cursor: string): [string, string] {
  const match = /^(\d{1,20}):([0-9a-f-]{36})$/i.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) throw new InvalidCursorError();
  return [match[1], match[2]];
}


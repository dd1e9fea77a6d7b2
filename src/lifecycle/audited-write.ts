import type { EntityManager } from 'typeorm';
import type { ClusterTopology } from '../cluster/cluster-topology';
import { inLifecycleSpan } from '../observability/lifecycle-span';

/** A statement with `$1…$n` placeholders and exactly the values bound to them. */
export interface WriteStatement {
  text: string;
  values: unknown[];
}

/** A reference to a column of the written row, as `type`, in the SQL of an audit entry's details. */
export type WrittenColumn = (name: string, type: 'text' | 'int' | 'uuid') => string;

/**
 * A lifecycle write and its audit entry. `write` is one INSERT/UPDATE … RETURNING (or a SELECT, for
 * a call that finds its work already done) that names its tenant in its WHERE clause; its rows are
 * what the caller gets back, and each gets one audit entry.
 */
export interface AuditedWrite {
  write: WriteStatement;
  /** A further write that depends on its parameters only; made only when `write` returned rows. */
  alsoWrite?: WriteStatement;
  /** The entry; its actor and time are the database's (migration 012). */
  audit: {
    action: string;
    targetType: string;
    /** The written row's columns that hold the entry's tenant and target. */
    tenantColumn: string;
    targetColumn: string;
    /** The entry's details: a jsonb expression over the written row's columns. */
    details: (column: WrittenColumn) => string;
  };
  /** Columns `write` returns for the audit entry only: left out of the rows it resolves to. */
  auditOnly?: string[];
}

/**
 * Makes `audited` in the caller's transaction; resolves to the rows of its `write`, without the
 * audit columns (empty when it wrote nothing, and then nothing else was written either).
 *
 * The one place where a lifecycle write differs between one node and a Citus cluster:
 *
 * - one node: ONE statement, the write and the audit INSERT as CTEs of it: one round trip, which
 *   matters on the hot path (a save after every step).
 * - Citus: the same write as a statement of its own, then the audit INSERT … VALUES from what it
 *   returned. Citus runs an INSERT fed by a CTE as "pull to coordinator" + COPY, which row level
 *   security refuses ("COPY FROM not supported with row-level security"); each statement here
 *   names the tenant and goes to that tenant's one shard (a router statement, EXPLAIN: Task Count: 1).
 *
 * Both give the same rows, the same audit entries, and nothing written when `write` matched nothing.
 */
export async function auditedWrite(manager: EntityManager, topology: ClusterTopology, audited: AuditedWrite): Promise<Record<string, unknown>[]> {
  const rows = await inLifecycleSpan(audited.audit.action, () =>
    topology.isCitus ? asRouterStatements(manager, audited) : asOneStatement(manager, audited),
  );
  const auditOnly = new Set(audited.auditOnly ?? []);
  return rows.map((row) => Object.fromEntries(Object.entries(row).filter(([column]) => !auditOnly.has(column))));
}

type Row = Record<string, unknown>;

const AUDIT_COLUMNS = `audit_logs (tenant_id, action, target_type, target_id, details)`;

async function asOneStatement(manager: EntityManager, { write, alsoWrite, audit }: AuditedWrite): Promise<Row[]> {
  const values = [...write.values];
  const next = (value: unknown) => `$${values.push(value)}`;
  const also = alsoWrite ? `also AS (${renumber(alsoWrite.text, values.length)}),` : '';
  if (alsoWrite) values.push(...alsoWrite.values);
  const column: WrittenColumn = (name, type) => `written."${name}"::${type}`;
  return records(
    await manager.queryRunner!.query(
      `WITH written AS (${write.text}),
       ${also}
       audited AS (
         INSERT INTO ${AUDIT_COLUMNS}
         SELECT ${column(audit.tenantColumn, 'uuid')}, ${next(audit.action)}, ${next(audit.targetType)},
                ${column(audit.targetColumn, 'text')}, ${audit.details(column)}
         FROM written
       )
       SELECT * FROM written`,
      values,
      true,
    ),
  );
}

// The details expression gets the row's values as parameters: Citus refuses functions that are not
// IMMUTABLE (jsonb_build_object is STABLE) in the RETURNING list of an UPDATE, and evaluates them in
// the VALUES of an INSERT on the coordinator before sending it to the shard.
async function asRouterStatements(manager: EntityManager, { write, alsoWrite, audit }: AuditedWrite): Promise<Row[]> {
  const runner = manager.queryRunner!;
  const rows = records(await runner.query(write.text, write.values, true));
  if (rows.length === 0) return rows;
  if (alsoWrite) await runner.query(alsoWrite.text, alsoWrite.values, true);
  for (const row of rows) {
    const values: unknown[] = [];
    const column: WrittenColumn = (name, type) => `$${values.push(row[name])}::${type}`;
    const text = `INSERT INTO ${AUDIT_COLUMNS}
                  VALUES (${column(audit.tenantColumn, 'uuid')}, $${values.push(audit.action)},
                          $${values.push(audit.targetType)}, ${column(audit.targetColumn, 'text')}, ${audit.details(column)})`;
    await runner.query(text, values, true);
  }
  return rows;
}

const records = (result: { records?: unknown[] }) => (result.records ?? []) as Row[];

/**
 * Shifts the `$n` placeholders of `text` by `offset`, so that it can join another statement's
 * parameters. The lifecycle statements hold no `$` other than their placeholders.
 */
function renumber(text: string, offset: number): string {
  return text.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`);
}

import type { EntityManager } from 'typeorm';
import type { ClusterTopology } from '../cluster/cluster-topology';

/** A statement with `$1…$n` placeholders and exactly the values bound to them. */
export interface WriteStatement {
  text: string;
  values: unknown[];
}

/** The columns a write's RETURNING list adds for its audit entry (stripped from the rows it resolves to). */
export interface AuditColumns {
  auditTenantId: string;
  auditTargetId: string;
  auditDetails: Record<string, unknown>;
}

/**
 * A lifecycle write and its audit entry. `write` is one INSERT/UPDATE … RETURNING (or a SELECT, for
 * a call that finds its work already done) that names its tenant in its WHERE clause, whose rows
 * are what the caller gets back plus the {@link AuditColumns}; one audit entry is written per row.
 */
export interface AuditedWrite {
  write: WriteStatement;
  /** A further write that depends on its parameters only; made only when `write` returned rows. */
  alsoWrite?: WriteStatement;
  actor: string;
  action: string;
  targetType: string;
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
export async function auditedWrite(
  manager: EntityManager,
  topology: ClusterTopology,
  audited: AuditedWrite,
): Promise<Record<string, unknown>[]> {
  const rows = topology.isCitus ? await asRouterStatements(manager, audited) : await asOneStatement(manager, audited);
  return rows.map(({ auditTenantId: _t, auditTargetId: _i, auditDetails: _d, ...row }) => row);
}

type WrittenRow = Record<string, unknown> & AuditColumns;

const AUDIT_INSERT = `INSERT INTO audit_logs (tenant_id, actor, action, target_type, target_id, details)`;

async function asOneStatement(manager: EntityManager, { write, alsoWrite, actor, action, targetType }: AuditedWrite): Promise<WrittenRow[]> {
  const values = [...write.values];
  const next = (value: unknown) => `$${values.push(value)}`;
  const also = alsoWrite ? `also AS (${renumber(alsoWrite.text, values.length)}),` : '';
  if (alsoWrite) values.push(...alsoWrite.values);
  return records(
    await manager.queryRunner!.query(
      `WITH written AS (${write.text}),
       ${also}
       audited AS (
         ${AUDIT_INSERT}
         SELECT "auditTenantId", ${next(actor)}, ${next(action)}, ${next(targetType)}, "auditTargetId", "auditDetails" FROM written
       )
       SELECT * FROM written`,
      values,
      true,
    ),
  );
}

async function asRouterStatements(manager: EntityManager, { write, alsoWrite, actor, action, targetType }: AuditedWrite): Promise<WrittenRow[]> {
  const runner = manager.queryRunner!;
  const rows = records(await runner.query(write.text, write.values, true));
  if (rows.length === 0) return rows;
  if (alsoWrite) await runner.query(alsoWrite.text, alsoWrite.values, true);
  for (const row of rows) {
    await runner.query(
      `${AUDIT_INSERT} VALUES ($1, $2, $3, $4, $5, $6)`,
      [row.auditTenantId, actor, action, targetType, row.auditTargetId, JSON.stringify(row.auditDetails)],
      true,
    );
  }
  return rows;
}

const records = (result: { records?: unknown[] }) => (result.records ?? []) as WrittenRow[];

/**
 * Shifts the `$n` placeholders of `text` by `offset`, so that it can join another statement's
 * parameters. The lifecycle statements hold no `$` other than their placeholders.
 */
function renumber(text: string, offset: number): string {
  return text.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`);
}

import { Injectable } from '@nestjs/common';
import { TenantContext } from '../tenancy/tenant-context';
import type { ScopedTransaction } from '../tenancy/scoped-transaction';
import { parseTenantId } from '../tenancy/tenant-id';
import { SYSTEM_TENANT_ID } from '../schema/tenant-policy';

/** What an audit entry says; the tenant and the actor come from the current context. */
export interface AuditEntry {
  action: string;
  targetType?: string;
  targetId?: string;
  /** A before/after summary; never secrets. */
  details?: Record<string, unknown>;
}

/** The outcome of {@link AuditTrail.verifyChain}. */
export type AuditChainVerification =
  | { ok: true; entries: number }
  | {
      ok: false;
      entries: number;
      /**
       * The first entry at which the chain breaks. `unchained`: an entry without its position or hash
       * (written behind the triggers), reported before any other; its `chainPosition` may be null.
       */
      brokenAt: { id: string | null; chainPosition: number | null; reason: 'hash_mismatch' | 'link_mismatch' | 'gap' | 'unchained' };
    };

/** The actor recorded when the context names none. */
export function actorOf(transaction: ScopedTransaction): string {
  return transaction.actor ?? (transaction.scope.kind === 'system' ? 'system' : 'unknown');
}

/**
 * Appends entries to the hash-chained audit trail inside the caller's transaction, and verifies a
 * chain. The database links each entry to the previous one of its chain on INSERT.
 */
@Injectable()
export class AuditTrail {
  constructor(private readonly context: TenantContext) {}

  /** Appends one entry in the current tenant (or system) transaction. */
  async record(entry: AuditEntry): Promise<void> {
    const transaction = this.context.require('AuditTrail.record');
    const tenantId = transaction.scope.kind === 'tenant' ? transaction.scope.tenantId : SYSTEM_TENANT_ID;
    await transaction.manager.query(
      `INSERT INTO audit_logs (tenant_id, actor, action, target_type, target_id, details)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [tenantId, actorOf(transaction), entry.action, entry.targetType ?? null, entry.targetId ?? null, entry.details ?? {}],
    );
  }

  /**
   * Recomputes every hash of a chain and checks each link. In a tenant context: that tenant's chain.
   * On the system path: the chain of system entries, or of `tenantId` when given.
   */
  async verifyChain(tenantId?: string): Promise<AuditChainVerification> {
    const transaction = this.context.require('AuditTrail.verifyChain');
    const chain =
      transaction.scope.kind === 'tenant'
        ? transaction.scope.tenantId
        : tenantId === undefined
          ? SYSTEM_TENANT_ID
          : parseTenantId(tenantId);
    const [row] = await transaction.manager.query(
      // Every check is false, never NULL, for an entry whose chain columns are NULL: a comparison with
      // NULL is NULL, and NOT NULL would have let such an entry pass as sound.
      `WITH chain AS (
         SELECT id, chain_position,
                chain_position IS NULL OR hash IS NULL AS unchained,
                coalesce(hash = audit_logs_entry_hash(tenant_id, chain_position, previous_hash, actor, action, target_type, target_id, details, created_at), false) AS hash_ok,
                previous_hash IS NOT DISTINCT FROM lag(hash) OVER w AS link_ok,
                coalesce(chain_position = coalesce(lag(chain_position) OVER w, 0) + 1, false) AS position_ok
         FROM audit_logs
         WHERE tenant_id = $1
         WINDOW w AS (ORDER BY chain_position)
       )
       SELECT (SELECT count(*) FROM chain)::int AS entries, broken.*
       FROM (SELECT 1) AS one
       LEFT JOIN LATERAL (
         SELECT true AS broken, id, chain_position::int AS "chainPosition", unchained, hash_ok, link_ok, position_ok
         FROM chain WHERE unchained OR NOT (hash_ok AND link_ok AND position_ok)
         ORDER BY chain_position NULLS FIRST LIMIT 1
       ) AS broken ON true`,
      [chain],
    );
    if (row.broken === null) return { ok: true, entries: row.entries };
    const reason = row.unchained ? 'unchained' : !row.position_ok ? 'gap' : !row.hash_ok ? 'hash_mismatch' : 'link_mismatch';
    return { ok: false, entries: row.entries, brokenAt: { id: row.id, chainPosition: row.chainPosition, reason } };
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { RESOLVED_DATABASE_CONFIG } from '../config/database.internal-constants';
import type { DatabaseConfig } from '../config/database-config';
import { TenantContext } from '../tenant-context/tenant-context';
import type { ScopedTransaction } from '../transaction/scoped-transaction';
import { parseTenantId } from '../tenancy/tenant-id';
import { SYSTEM_TENANT_ID } from '../tenancy/tenant-policy';
import { type AuditDigest, AuditDigestError, AuditDigests } from './audit-digest';
import { type ChainBreak, inspectChain } from './chain-verification';

/** What an audit entry says. The tenant comes from the transaction; the actor and the time are the database's. */
export interface AuditEntry {
  action: string;
  targetType?: string;
  targetId?: string;
  /** A before/after summary; never secrets. */
  details?: Record<string, unknown>;
}

/** What {@link AuditTrail.verifyChain} checks. */
export interface VerifyChainOptions {
  /** On the system path: the tenant whose chain to verify. Default: the digest's chain, or the system's. */
  tenantId?: string;
  /** Digests taken earlier ({@link AuditTrail.digest}): the chain must still extend each. */
  digest?: AuditDigest | readonly AuditDigest[];
}

/** The outcome of {@link AuditTrail.verifyChain}. */
export type AuditChainVerification =
  | {
      ok: true;
      entries: number;
      /** The verified chain's digest, to keep for the next verification. */
      digest: AuditDigest;
    }
  | { ok: false; entries: number; brokenAt: ChainBreak };

/**
 * Appends entries to the hash-chained audit trail inside the caller's transaction; takes digests of
 * a chain and verifies a chain against them. The database links each entry to the previous one of
 * its chain on INSERT, and sets its time and actor.
 */
@Injectable()
export class AuditTrail {
  private readonly digests: AuditDigests;

  constructor(
    private readonly context: TenantContext,
    @Inject(RESOLVED_DATABASE_CONFIG) config: DatabaseConfig,
  ) {
    this.digests = new AuditDigests(config.auditDigestKey);
  }

  /** Appends one entry in the current tenant (or system) transaction. */
  async record(entry: AuditEntry): Promise<void> {
    const transaction = this.context.require('AuditTrail.record');
    const tenantId = transaction.scope.kind === 'tenant' ? transaction.scope.tenantId : SYSTEM_TENANT_ID;
    await transaction.manager.query(
      `INSERT INTO audit_logs (tenant_id, action, target_type, target_id, details) VALUES ($1, $2, $3, $4, $5)`,
      [tenantId, entry.action, entry.targetType ?? null, entry.targetId ?? null, entry.details ?? {}],
    );
  }

  /**
   * Where a chain stands now, to keep outside the database (signed with `auditDigestKey` when the
   * module has one). In a tenant context: that tenant's chain. On the system path: the system's, or
   * `tenantId`'s when given. It vouches for nothing by itself: take it after `verifyChain()` (whose
   * result carries one), or often enough that an edit would have to happen between two of them.
   */
  async digest(tenantId?: string): Promise<AuditDigest> {
    const transaction = this.context.require('AuditTrail.digest');
    const chain = chainOf(transaction, tenantId);
    const [head] = await transaction.manager.query(
      `SELECT chain_position::text AS position, hash FROM audit_logs
       WHERE tenant_id = $1 AND chain_position IS NOT NULL
       ORDER BY chain_position DESC LIMIT 1`,
      [chain],
    );
    return this.digests.make(chain, Number(head?.position ?? 0), head?.hash ?? null);
  }

  /**
   * Recomputes every hash of a chain and checks each link, and that the chain still extends each
   * digest given. In a tenant context: that tenant's chain. On the system path: the chain of system
   * entries, or of `tenantId` (or of the digest) when given. A string is taken as `{ tenantId }`.
   */
  async verifyChain(options: string | VerifyChainOptions = {}): Promise<AuditChainVerification> {
    const { tenantId, digest } = typeof options === 'string' ? { tenantId: options } : options;
    const transaction = this.context.require('AuditTrail.verifyChain');
    const digests = (digest === undefined ? [] : Array.isArray(digest) ? digest : [digest]).map((value, i, all) =>
      this.digests.check(value, all.length === 1 ? 'digest' : `digest[${i}]`),
    );
    const chain = chainOf(transaction, tenantId ?? digests[0]?.chain);
    const other = digests.find((given) => given.chain !== chain);
    if (other) throw new AuditDigestError(`a digest is of chain ${other.chain}, not of the chain verified (${chain})`);
    const inspection = await inspectChain(transaction.manager, chain, digests);
    return inspection.broken
      ? { ok: false, entries: inspection.entries, brokenAt: inspection.broken }
      : { ok: true, entries: inspection.entries, digest: this.digests.make(chain, inspection.head.position, inspection.head.hash) };
  }
}

/** A tenant transaction's own chain; on the system path, `tenantId`'s or the system's. */
function chainOf(transaction: ScopedTransaction, tenantId: string | undefined): string {
  if (transaction.scope.kind === 'tenant') return transaction.scope.tenantId;
  return tenantId === undefined ? SYSTEM_TENANT_ID : parseTenantId(tenantId);
}

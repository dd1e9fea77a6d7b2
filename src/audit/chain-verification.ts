import type { EntityManager } from 'typeorm';
import type { AuditDigest } from './audit-digest';

/** Why a chain does not verify, at the entry {@link ChainBreak} names. */
export type ChainBreakReason =
  /** An entry without position or hash: written behind the triggers. Reported before any other. */
  | 'unchained'
  /** The entry's position is not the one after the previous entry's: an entry before it is missing. */
  | 'gap'
  /** The entry is not what its hash says: it was changed after it was written. */
  | 'hash_mismatch'
  /** The entry does not name the previous entry's hash: one before it was replaced. */
  | 'link_mismatch'
  /**
   * The entry at a digest's position is not the one the digest saw: the chain was rewritten at or
   * before it, and every later hash recomputed. Digests taken more often narrow where.
   */
  | 'digest_mismatch'
  /** The chain ends before a digest's position: entries were removed from its end. Names the first missing position. */
  | 'truncated';

/** The first entry at which a chain breaks. `id` is null where no entry is there (`truncated`); `chainPosition` where the entry has none. */
export interface ChainBreak {
  id: string | null;
  chainPosition: number | null;
  reason: ChainBreakReason;
}

/** What {@link inspectChain} found: the chain's size, its last entry, and its first break. */
export interface ChainInspection {
  entries: number;
  head: { position: number; hash: string | null };
  broken?: ChainBreak;
}

/**
 * Recomputes every hash of `chain` and checks each link and position; then, for each digest, that the
 * entry at its position is still the one it saw. Reports the break at the lowest position (an
 * unchained entry first): the one closest to where the chain was first changed.
 */
export async function inspectChain(manager: EntityManager, chain: string, digests: readonly AuditDigest[]): Promise<ChainInspection> {
  const [row] = await manager.query(
    // Every check is false, never NULL, for an entry whose chain columns are NULL: a comparison with
    // NULL is NULL, and NOT NULL would have let such an entry pass as sound.
    `WITH chain AS (
       SELECT id, chain_position, hash,
              chain_position IS NULL OR hash IS NULL AS unchained,
              coalesce(hash = audit_logs_entry_hash(tenant_id, chain_position, previous_hash, actor, action, target_type, target_id, details, created_at), false) AS hash_ok,
              previous_hash IS NOT DISTINCT FROM lag(hash) OVER w AS link_ok,
              coalesce(chain_position = coalesce(lag(chain_position) OVER w, 0) + 1, false) AS position_ok
       FROM audit_logs
       WHERE tenant_id = $1
       WINDOW w AS (ORDER BY chain_position)
     )
     SELECT (SELECT count(*) FROM chain)::int AS entries,
            (SELECT json_build_object('position', chain_position, 'hash', hash) FROM chain
             WHERE chain_position IS NOT NULL ORDER BY chain_position DESC LIMIT 1) AS head,
            (SELECT json_agg(json_build_object('id', id, 'position', chain_position, 'hash', hash))
             FROM chain WHERE chain_position = ANY ($2::bigint[])) AS at_digests,
            broken.*
     FROM (SELECT 1) AS one
     LEFT JOIN LATERAL (
       SELECT true AS broken, id, chain_position::int AS "chainPosition", unchained, hash_ok, link_ok, position_ok
       FROM chain WHERE unchained OR NOT (hash_ok AND link_ok AND position_ok)
       ORDER BY chain_position NULLS FIRST LIMIT 1
     ) AS broken ON true`,
    [chain, digests.map((digest) => digest.position)],
  );
  const head = { position: Number(row.head?.position ?? 0), hash: (row.head?.hash as string | undefined) ?? null };
  const breaks: ChainBreak[] = [];
  if (row.broken !== null) {
    const reason = row.unchained ? 'unchained' : !row.position_ok ? 'gap' : !row.hash_ok ? 'hash_mismatch' : 'link_mismatch';
    breaks.push({ id: row.id, chainPosition: row.chainPosition, reason });
  }
  const atDigests = new Map<number, { id: string; hash: string }>(
    ((row.at_digests ?? []) as { id: string; position: number; hash: string }[]).map((entry) => [Number(entry.position), entry]),
  );
  for (const digest of digests) {
    if (digest.position === 0) continue;
    if (digest.position > head.position) {
      breaks.push({ id: null, chainPosition: head.position + 1, reason: 'truncated' });
      continue;
    }
    // No entry at a position below the head: the gap after it is reported already.
    const entry = atDigests.get(digest.position);
    if (entry !== undefined && entry.hash !== digest.hash) breaks.push({ id: entry.id, chainPosition: digest.position, reason: 'digest_mismatch' });
  }
  const [broken] = breaks.sort((a, b) => (a.chainPosition ?? -1) - (b.chainPosition ?? -1));
  return { entries: row.entries, head, ...(broken && { broken }) };
}

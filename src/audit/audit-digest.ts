import { createHmac, timingSafeEqual } from 'node:crypto';
import { parseTenantId } from '../tenancy/tenant-id';

/**
 * Where a chain stood when the digest was taken: its last entry's position and hash. Kept outside the
 * database (logged, stored elsewhere), it lets {@link AuditTrail.verifyChain} prove that the chain
 * still extends it: every entry up to `position` is the one that was there, none removed from the end.
 * The hash of an entry covers every entry before it, so these few fields stand for the whole chain.
 */
export interface AuditDigest {
  /** Whose chain: a tenant's id, or SYSTEM_TENANT_ID for the system's. */
  chain: string;
  /** The position of the chain's last entry; 0 for an empty chain. */
  position: number;
  /** That entry's hash; null for an empty chain. */
  hash: string | null;
  /** When the digest was taken, ISO 8601. */
  takenAt: string;
  /**
   * HMAC-SHA256 (hex) of the fields above, under the module's `auditDigestKey`; absent without one.
   * With it, a digest kept where the database's administrators can write cannot be forged by them.
   */
  signature?: string;
}

/** A digest that cannot be checked against a chain: malformed, of another chain, or not signed as it must be. */
export class AuditDigestError extends Error {
  override name = 'AuditDigestError';
}

const FORMAT = 'fdl-runtime-db/audit-digest/1';
const HASH = /^[0-9a-f]{64}$/;

/** Signs and checks digests with the module's key, which the database never sees. */
export class AuditDigests {
  private readonly key?: Buffer;

  constructor(key?: string) {
    this.key = key === undefined ? undefined : Buffer.from(key, 'utf8');
  }

  /** A digest of `chain` standing at `position`/`hash`, signed when there is a key. */
  make(chain: string, position: number, hash: string | null): AuditDigest {
    const digest: AuditDigest = { chain, position, hash, takenAt: new Date().toISOString() };
    return this.key === undefined ? digest : { ...digest, signature: this.sign(digest) };
  }

  /**
   * Returns `value` as a digest of one chain, or throws {@link AuditDigestError} saying what is wrong
   * with it. With a key, only a digest this key signed is taken; without one, a signed digest is
   * refused rather than taken on trust, since nothing here could check it.
   */
  check(value: unknown, what = 'digest'): AuditDigest {
    const digest = value as Partial<AuditDigest> | null;
    if (typeof digest !== 'object' || digest === null) throw new AuditDigestError(`${what} must be an object as AuditTrail.digest() returns it`);
    const { chain, position, hash, takenAt, signature } = digest;
    if (typeof chain !== 'string') throw new AuditDigestError(`${what}.chain must be a tenant id`);
    parseTenantId(chain, `${what}.chain`);
    if (!Number.isSafeInteger(position) || position! < 0) throw new AuditDigestError(`${what}.position must be a whole number from 0`);
    if (position === 0 ? hash !== null : typeof hash !== 'string' || !HASH.test(hash)) {
      throw new AuditDigestError(`${what}.hash must be null at position 0 and a sha256 in hex otherwise`);
    }
    if (typeof takenAt !== 'string' || Number.isNaN(Date.parse(takenAt))) throw new AuditDigestError(`${what}.takenAt must be an ISO 8601 time`);
    const checked: AuditDigest = { chain: chain.toLowerCase(), position: position!, hash: hash!, takenAt };
    if (this.key === undefined) {
      if (signature !== undefined) {
        throw new AuditDigestError(`${what} is signed, but this module has no auditDigestKey (FDL_AUDIT_DIGEST_KEY) to check the signature with`);
      }
      return checked;
    }
    if (typeof signature !== 'string') throw new AuditDigestError(`${what} is not signed: with an auditDigestKey, only digests signed with it are taken`);
    const expected = Buffer.from(this.sign({ ...checked, chain }), 'hex');
    const given = Buffer.from(signature, 'hex');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new AuditDigestError(`${what}'s signature does not match: it was altered, or signed with another key`);
    }
    return checked;
  }

  private sign({ chain, position, hash, takenAt }: AuditDigest): string {
    return createHmac('sha256', this.key!).update(JSON.stringify([FORMAT, chain, position, hash, takenAt])).digest('hex');
  }
}

import { type AuditDigest, AuditDigestError, AuditTrail, SYSTEM_TENANT_ID } from '../../src';
import { InvalidActorError } from '../../src';
import { TenantContext } from '../../src/tenant-context/tenant-context';
import { asSuperuser, asTenant } from '../utils/tenant-sql';
import { createTenants } from '../utils/tenants';
import { lifecycleFixture, type LifecycleFixture } from './lifecycle-fixture';

const DIGEST_KEY = 'a test key of at least thirty-two characters';

describe(AuditTrail.name, () => {
  let fx: LifecycleFixture;
  let audit: AuditTrail;
  let tenantA: string;
  beforeAll(async () => {
    fx = await lifecycleFixture({ poolSize: 20, auditDigestKey: DIGEST_KEY });
    audit = fx.app.get(AuditTrail);
    tenantA = fx.tenants[0];
  });
  afterAll(() => fx.close());

  /** A tenant's chain, or the system's (SYSTEM_TENANT_ID) for `null`. */
  const chain = (tenantId: string | null) =>
    asSuperuser(fx.db.url, async (c) =>
      (
        await c.query(
          `SELECT id, chain_position::int AS position, previous_hash, hash FROM audit_logs
           WHERE tenant_id = $1 ORDER BY chain_position`,
          [tenantId ?? SYSTEM_TENANT_ID],
        )
      ).rows,
    );
  /**
   * Edits as the superuser with the append-only triggers switched off and the chain's check dropped:
   * what an attacker with full access could do. Rolled back into place afterwards (the check NOT VALID,
   * as migration 012 adds it), so that the next test starts from the shipped schema.
   */
  const tamper = (sql: string, params: unknown[]) =>
    asSuperuser(fx.db.url, async (c) => {
      await c.query('BEGIN');
      await c.query('ALTER TABLE audit_logs DISABLE TRIGGER USER');
      await c.query('ALTER TABLE audit_logs DROP CONSTRAINT "CHK_audit_logs_chained"');
      await c.query(sql, params);
      await c.query(`ALTER TABLE audit_logs ADD CONSTRAINT "CHK_audit_logs_chained" CHECK (
        chain_position >= 1 AND hash IS NOT NULL AND (previous_hash IS NULL) = (chain_position = 1)) NOT VALID`);
      await c.query('ALTER TABLE audit_logs ENABLE TRIGGER USER');
      await c.query('COMMIT');
    });
  /**
   * Recomputes every link and hash from `fromPosition` on, with the database's own hash function, as
   * someone who can write the table would after an edit.
   */
  const recompute = (tenantId: string, fromPosition: number) =>
    tamper(
      `DO $$
       DECLARE entry record; previous text;
       BEGIN
         SELECT hash INTO previous FROM audit_logs WHERE tenant_id = '${tenantId}' AND chain_position = ${fromPosition - 1};
         FOR entry IN SELECT id FROM audit_logs WHERE tenant_id = '${tenantId}' AND chain_position >= ${fromPosition} ORDER BY chain_position LOOP
           UPDATE audit_logs SET previous_hash = previous,
                  hash = audit_logs_entry_hash(tenant_id, chain_position, previous, actor, action, target_type, target_id, details, created_at)
           WHERE tenant_id = '${tenantId}' AND id = entry.id RETURNING hash INTO previous;
         END LOOP;
       END $$`,
      [],
    );
  /** A fresh tenant with `count` entries, and a digest of its chain taken after them. */
  const chainWithDigest = async (name: string, count: number): Promise<{ tenant: string; digest: AuditDigest }> => {
    const [tenant] = await createTenants(fx.db.url, [name]);
    for (let i = 1; i <= count; i++) await fx.tenancy.runInTenant(tenant, () => audit.record({ action: `test.${i}` }));
    return { tenant, digest: await fx.tenancy.runInTenant(tenant, () => audit.digest()) };
  };
  const verify = (tenant: string, digest?: AuditDigest | AuditDigest[]) => fx.tenancy.runInTenant(tenant, () => audit.verifyChain({ digest }));

  it('20 concurrent writers extend one tenant\'s chain without forking it, and the chain verifies', async () => {
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        fx.tenancy.runInTenant(tenantA, () => audit.record({ action: 'test.concurrent', targetType: 'test', targetId: String(i) }), { actor: `writer-${i}` }),
      ),
    );
    const entries = await chain(tenantA);
    expect(entries.map((e) => e.position)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(entries[0].previous_hash).toBeNull();
    entries.slice(1).forEach((entry, i) => expect(entry.previous_hash).toBe(entries[i].hash));
    await expect(fx.tenancy.runInTenant(tenantA, () => audit.verifyChain())).resolves.toMatchObject({ ok: true, entries: 20 });
  });

  it('keeps one chain per tenant and one for system entries', async () => {
    await fx.tenancy.runInTenant(fx.tenants[1], () => audit.record({ action: 'test.other' }));
    await fx.tenancy.runAsSystem(() => audit.record({ action: 'test.system' }));
    expect((await chain(fx.tenants[1])).map((e) => e.position)).toEqual([1]);
    expect((await chain(null)).map((e) => e.position)).toEqual([1]);
    await expect(fx.tenancy.runAsSystem(() => audit.verifyChain())).resolves.toMatchObject({ ok: true, entries: 1 });
    await expect(fx.tenancy.runAsSystem(() => audit.verifyChain(tenantA))).resolves.toMatchObject({ ok: true, entries: 20 });
  });

  it('reports the exact entry a superuser edited behind the triggers\' back', async () => {
    const entries = await chain(tenantA);
    const victim = entries[6];
    await tamper(`UPDATE audit_logs SET details = '{"rewritten": true}' WHERE id = $1`, [victim.id]);
    await expect(fx.tenancy.runInTenant(tenantA, () => audit.verifyChain())).resolves.toEqual({
      ok: false,
      entries: 20,
      brokenAt: { id: victim.id, chainPosition: 7, reason: 'hash_mismatch' },
    });
  });

  it('reports a deleted entry as a gap at the entry after it', async () => {
    const entries = await chain(fx.tenants[1]);
    await fx.tenancy.runInTenant(fx.tenants[1], () => audit.record({ action: 'test.second' }));
    await fx.tenancy.runInTenant(fx.tenants[1], () => audit.record({ action: 'test.third' }));
    const [, second, third] = await chain(fx.tenants[1]);
    expect(entries).toHaveLength(1);
    await tamper(`DELETE FROM audit_logs WHERE id = $1`, [second.id]);
    await expect(fx.tenancy.runInTenant(fx.tenants[1], () => audit.verifyChain())).resolves.toEqual({
      ok: false,
      entries: 2,
      brokenAt: { id: third.id, chainPosition: 3, reason: 'gap' },
    });
  });

  it('reports an entry added behind the triggers with no position or hash, before any other break', async () => {
    const [tenant] = await createTenants(fx.db.url, ['unchained']);
    await fx.tenancy.runInTenant(tenant, () => audit.record({ action: 'test.first' }));
    await tamper(`INSERT INTO audit_logs (tenant_id, actor, action) VALUES ($1, 'forger', 'test.forged')`, [tenant]);
    const [forged] = (await chain(tenant)).filter((entry) => entry.position === null);
    await expect(fx.tenancy.runInTenant(tenant, () => audit.verifyChain())).resolves.toEqual({
      ok: false,
      entries: 2,
      brokenAt: { id: forged.id, chainPosition: null, reason: 'unchained' },
    });
  });

  it('reports the last entry whose hash was set NULL after an edit', async () => {
    const [tenant] = await createTenants(fx.db.url, ['nulled']);
    for (const action of ['test.first', 'test.last']) await fx.tenancy.runInTenant(tenant, () => audit.record({ action }));
    const [, last] = await chain(tenant);
    await tamper(`UPDATE audit_logs SET actor = 'someone else', hash = NULL WHERE id = $1`, [last.id]);
    await expect(fx.tenancy.runInTenant(tenant, () => audit.verifyChain())).resolves.toEqual({
      ok: false,
      entries: 2,
      brokenAt: { id: last.id, chainPosition: 2, reason: 'unchained' },
    });
  });

  it("SQL in a tenant transaction that sets the system's tenant id reads no system entry and can append none", async () => {
    await fx.tenancy.runAsSystem(() => audit.record({ action: 'tenant.created', details: { name: 'secret' } }));
    const seen = await asTenant(fx.db.url, SYSTEM_TENANT_ID, async (c) => (await c.query('SELECT count(*)::int AS n FROM audit_logs')).rows[0].n);
    expect(seen).toBe(0);
    await expect(
      asTenant(fx.db.url, SYSTEM_TENANT_ID, (c) => c.query(`INSERT INTO audit_logs (tenant_id, actor, action) VALUES ($1, 'system', 'tenant.created')`, [SYSTEM_TENANT_ID])),
    ).rejects.toMatchObject({ code: '42501' });
    // The system path still reads and extends it.
    await expect(fx.tenancy.runAsSystem(() => audit.verifyChain())).resolves.toMatchObject({ ok: true });
  });

  it('records the actor given to runInTenant', async () => {
    await fx.tenancy.runAsSystem(() => audit.record({ action: 'test.actor' }), { actor: 'nightly-job' });
    const actor = await asSuperuser(fx.db.url, async (c) => (await c.query(`SELECT actor FROM audit_logs WHERE action = 'test.actor'`)).rows[0].actor);
    expect(actor).toBe('nightly-job');
  });

  describe('the chain columns', () => {
    it('refuse an entry without position or hash, even written with the triggers switched off', async () => {
      const [tenant] = await createTenants(fx.db.url, ['unchained-refused']);
      const insertBehindTriggers = asSuperuser(fx.db.url, async (c) => {
        await c.query('BEGIN');
        try {
          await c.query('ALTER TABLE audit_logs DISABLE TRIGGER USER');
          await c.query(`INSERT INTO audit_logs (tenant_id, actor, action) VALUES ($1, 'forger', 'test.forged')`, [tenant]);
        } finally {
          await c.query('ROLLBACK');
        }
      });
      await expect(insertBehindTriggers).rejects.toMatchObject({ code: '23514', constraint: 'CHK_audit_logs_chained' });
    });
  });

  describe('the database, not the writer, sets when and who', () => {
    it("records the transaction's actor and the clock, whatever the INSERT says", async () => {
      const [tenant] = await createTenants(fx.db.url, ['backdated']);
      const before = Date.now();
      await fx.tenancy.runInTenant(
        tenant,
        () =>
          fx.app.get(TenantContext).require('test').manager.query(
            `INSERT INTO audit_logs (tenant_id, actor, action, created_at) VALUES ($1, 'mallory', 'test.backdated', '2001-01-01T00:00:00Z')`,
            [tenant],
          ),
        { actor: 'alice' },
      );
      const [entry] = await asSuperuser(fx.db.url, async (c) => (await c.query(`SELECT actor, created_at FROM audit_logs WHERE tenant_id = $1`, [tenant])).rows);
      expect(entry.actor).toBe('alice');
      expect(entry.created_at.getTime()).toBeGreaterThanOrEqual(before - 1000);
      await expect(verify(tenant)).resolves.toMatchObject({ ok: true, entries: 1 });
    });

    it("records 'unknown' for raw SQL in a tenant transaction that names no actor", async () => {
      const [tenant] = await createTenants(fx.db.url, ['raw-actor']);
      await asTenant(fx.db.url, tenant, (c) => c.query(`INSERT INTO audit_logs (tenant_id, actor, action) VALUES ($1, 'system', 'test.raw')`, [tenant]), true);
      const [entry] = await asSuperuser(fx.db.url, async (c) => (await c.query(`SELECT actor FROM audit_logs WHERE tenant_id = $1`, [tenant])).rows);
      expect(entry.actor).toBe('unknown');
    });

    it('refuses an actor the trail cannot record before taking a connection, naming the option', async () => {
      await expect(fx.tenancy.runInTenant(tenantA, () => 1, { actor: 'x'.repeat(201) })).rejects.toThrow(
        new InvalidActorError('actor', 200),
      );
      await expect(fx.tenancy.runInTenant(tenantA, () => 1, { actor: '' })).rejects.toBeInstanceOf(InvalidActorError);
    });

    it('takes an actor with quotes and backslashes as it is', async () => {
      const [tenant] = await createTenants(fx.db.url, ['quoted-actor']);
      const actor = `o'brien \\ "x" $$ '); DROP TABLE flows; --`;
      await fx.tenancy.runInTenant(tenant, () => audit.record({ action: 'test.quoted' }), { actor });
      const [entry] = await asSuperuser(fx.db.url, async (c) => (await c.query(`SELECT actor FROM audit_logs WHERE tenant_id = $1`, [tenant])).rows);
      expect(entry.actor).toBe(actor);
    });
  });

  describe('digests', () => {
    it('a digest names the head of the chain and is signed with the module key', async () => {
      const { tenant, digest } = await chainWithDigest('digest-head', 3);
      const [, , last] = await chain(tenant);
      expect(digest).toMatchObject({ chain: tenant, position: 3, hash: last.hash, signature: expect.stringMatching(/^[0-9a-f]{64}$/) });
      const verified = await verify(tenant, digest);
      expect(verified).toMatchObject({ ok: true, entries: 3, digest: { chain: tenant, position: 3, hash: last.hash } });
      // The chain grows past a digest and still extends it.
      await fx.tenancy.runInTenant(tenant, () => audit.record({ action: 'test.later' }));
      await expect(verify(tenant, digest)).resolves.toMatchObject({ ok: true, entries: 4, digest: { position: 4 } });
    });

    it('an edit followed by recomputing every later hash passes the chain alone, and is reported against a digest', async () => {
      const { tenant, digest } = await chainWithDigest('recomputed', 6);
      const entries = await chain(tenant);
      await tamper(`UPDATE audit_logs SET details = '{"rewritten": true}' WHERE id = $1`, [entries[2].id]);
      await recompute(tenant, 3);
      // What the chain alone can tell: nothing, since anyone who can write the table can recompute it.
      await expect(verify(tenant)).resolves.toMatchObject({ ok: true, entries: 6 });
      await expect(verify(tenant, digest)).resolves.toEqual({
        ok: false,
        entries: 6,
        brokenAt: { id: entries[5].id, chainPosition: 6, reason: 'digest_mismatch' },
      });
    });

    it('digests taken more often narrow a recomputed edit down to the entries between two of them', async () => {
      const [tenant] = await createTenants(fx.db.url, ['narrowed']);
      const digests: AuditDigest[] = [];
      for (let i = 1; i <= 6; i++) {
        await fx.tenancy.runInTenant(tenant, () => audit.record({ action: `test.${i}` }));
        digests.push(await fx.tenancy.runInTenant(tenant, () => audit.digest()));
      }
      const entries = await chain(tenant);
      await tamper(`UPDATE audit_logs SET action = 'test.rewritten' WHERE id = $1`, [entries[3].id]);
      await recompute(tenant, 4);
      await expect(verify(tenant, digests)).resolves.toMatchObject({ ok: false, brokenAt: { id: entries[3].id, chainPosition: 4, reason: 'digest_mismatch' } });
    });

    it('an entry inserted in the middle, with the chain renumbered and recomputed, is reported against a digest', async () => {
      const { tenant, digest } = await chainWithDigest('inserted', 4);
      await tamper(
        `UPDATE audit_logs SET chain_position = -chain_position WHERE tenant_id = $1 AND chain_position >= 3;
         UPDATE audit_logs SET chain_position = -chain_position + 1 WHERE tenant_id = $1 AND chain_position < 0`.replace(/\$1/g, `'${tenant}'`),
        [],
      );
      await tamper(`INSERT INTO audit_logs (tenant_id, actor, action, chain_position, hash) VALUES ($1, 'system', 'tenant.exported', 3, 'x')`, [tenant]);
      await recompute(tenant, 3);
      await expect(verify(tenant)).resolves.toMatchObject({ ok: true, entries: 5 });
      await expect(verify(tenant, digest)).resolves.toMatchObject({ ok: false, brokenAt: { chainPosition: 4, reason: 'digest_mismatch' } });
    });

    it('a removed tail is reported against a digest, at the first missing position', async () => {
      const { tenant, digest } = await chainWithDigest('truncated', 5);
      const entries = await chain(tenant);
      await tamper(`DELETE FROM audit_logs WHERE tenant_id = $1 AND chain_position >= 4`, [tenant]);
      await expect(verify(tenant)).resolves.toMatchObject({ ok: true, entries: 3 });
      await expect(verify(tenant, digest)).resolves.toEqual({ ok: false, entries: 3, brokenAt: { id: null, chainPosition: 4, reason: 'truncated' } });
      expect(entries).toHaveLength(5);
    });

    it("the last entry's actor changed and its hash set NULL is reported, with or without a digest", async () => {
      const { tenant, digest } = await chainWithDigest('nulled-tail', 2);
      const [, last] = await chain(tenant);
      await tamper(`UPDATE audit_logs SET actor = 'someone else', hash = NULL WHERE id = $1`, [last.id]);
      const unchained = { ok: false, entries: 2, brokenAt: { id: last.id, chainPosition: 2, reason: 'unchained' } };
      await expect(verify(tenant)).resolves.toEqual(unchained);
      await expect(verify(tenant, digest)).resolves.toEqual(unchained);
    });

    it('an edit below a digest is reported at the edited entry itself, before the digest', async () => {
      const { tenant, digest } = await chainWithDigest('edited-below', 4);
      const entries = await chain(tenant);
      await tamper(`UPDATE audit_logs SET details = '{"x": 1}' WHERE id = $1`, [entries[1].id]);
      await expect(verify(tenant, digest)).resolves.toMatchObject({ ok: false, brokenAt: { id: entries[1].id, chainPosition: 2, reason: 'hash_mismatch' } });
    });

    it('refuses a digest that was altered, is unsigned, or is of another chain, saying which', async () => {
      const { tenant, digest } = await chainWithDigest('forged-digest', 2);
      await expect(verify(tenant, { ...digest, position: 1 })).rejects.toThrow(new AuditDigestError("digest's signature does not match: it was altered, or signed with another key"));
      const { signature: _, ...unsigned } = digest;
      await expect(verify(tenant, unsigned)).rejects.toThrow(/not signed/);
      await expect(verify(tenantA, digest)).rejects.toThrow(/of chain .* not of the chain verified/);
      await expect(verify(tenant, { ...digest, hash: 'nope' })).rejects.toThrow(/digest.hash must be/);
      await expect(verify(tenant, [digest, { ...digest, takenAt: 'yesterday' }])).rejects.toThrow(/digest\[1\]\.takenAt/);
    });

    it('the system path verifies a tenant chain against its digest without naming the tenant', async () => {
      const { tenant, digest } = await chainWithDigest('system-verifies', 2);
      await expect(fx.tenancy.runAsSystem(() => audit.verifyChain({ digest }))).resolves.toMatchObject({ ok: true, entries: 2, digest: { chain: tenant } });
      const systemDigest = await fx.tenancy.runAsSystem(() => audit.digest());
      expect(systemDigest.chain).toBe(SYSTEM_TENANT_ID);
      await expect(fx.tenancy.runAsSystem(() => audit.verifyChain({ digest: systemDigest }))).resolves.toMatchObject({ ok: true });
    });
  });
});

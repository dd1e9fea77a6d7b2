import { AuditTrail, SYSTEM_TENANT_ID } from '../../src';
import { asSuperuser, asTenant } from '../utils/tenant-sql';
import { createTenants } from '../utils/tenants';
import { lifecycleFixture, type LifecycleFixture } from './lifecycle-fixture';

describe(AuditTrail.name, () => {
  let fx: LifecycleFixture;
  let audit: AuditTrail;
  let tenantA: string;
  beforeAll(async () => {
    fx = await lifecycleFixture({ poolSize: 20 });
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
  /** Edits as the superuser with the append-only triggers switched off: what an attacker with full access could do. */
  const tamper = (sql: string, params: unknown[]) =>
    asSuperuser(fx.db.url, async (c) => {
      await c.query('BEGIN');
      await c.query('ALTER TABLE audit_logs DISABLE TRIGGER USER');
      await c.query(sql, params);
      await c.query('ALTER TABLE audit_logs ENABLE TRIGGER USER');
      await c.query('COMMIT');
    });

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
    await expect(fx.tenancy.runInTenant(tenantA, () => audit.verifyChain())).resolves.toEqual({ ok: true, entries: 20 });
  });

  it('keeps one chain per tenant and one for system entries', async () => {
    await fx.tenancy.runInTenant(fx.tenants[1], () => audit.record({ action: 'test.other' }));
    await fx.tenancy.runAsSystem(() => audit.record({ action: 'test.system' }));
    expect((await chain(fx.tenants[1])).map((e) => e.position)).toEqual([1]);
    expect((await chain(null)).map((e) => e.position)).toEqual([1]);
    await expect(fx.tenancy.runAsSystem(() => audit.verifyChain())).resolves.toEqual({ ok: true, entries: 1 });
    await expect(fx.tenancy.runAsSystem(() => audit.verifyChain(tenantA))).resolves.toEqual({ ok: true, entries: 20 });
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
});

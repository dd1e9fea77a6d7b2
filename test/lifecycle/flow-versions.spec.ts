import { FlowVersionsService, NotFoundInTenantError } from '../../src';
import { asSuperuser, asSystem } from '../utils/tenant-sql';
import { lifecycleFixture, type LifecycleFixture } from './lifecycle-fixture';

describe(FlowVersionsService.name, () => {
  let fx: LifecycleFixture;
  let versions: FlowVersionsService;
  beforeAll(async () => {
    fx = await lifecycleFixture({ poolSize: 20 });
    versions = fx.app.get(FlowVersionsService);
  });
  afterAll(() => fx.close());
  const [A] = [0];

  it('20 concurrent publishes of different definitions get versions 1..20 exactly', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => fx.tenancy.runInTenant(fx.tenants[A], () => versions.publish(fx.flows[A], { step: i }))),
    );
    expect(results.map((r) => r.version.version).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(results.every((r) => r.created)).toBe(true);
    const current = await asSystem(fx.db.url, async (c) => (await c.query(`SELECT v.version FROM flows f JOIN flow_versions v ON v.id = f.current_version_id WHERE f.id = $1`, [fx.flows[A]])).rows[0].version);
    expect(current).toBe(20);
  });

  it('publishing the same definition again returns the existing version, whatever its key order', async () => {
    const first = await fx.tenancy.runInTenant(fx.tenants[A], () => versions.publish(fx.flows[A], { a: 1, b: { c: 2, d: 3 } }));
    const again = await fx.tenancy.runInTenant(fx.tenants[A], () => versions.publish(fx.flows[A], { b: { d: 3, c: 2 }, a: 1 }));
    expect(first.created).toBe(true);
    expect(again).toEqual({ version: first.version, created: false });
    expect(again.version.contentHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("another tenant's flow is not found", async () => {
    await expect(fx.tenancy.runInTenant(fx.tenants[1], () => versions.publish(fx.flows[A], { x: 1 }))).rejects.toBeInstanceOf(NotFoundInTenantError);
  });

  it('the database refuses any UPDATE of a written version, even by the superuser', async () => {
    await expect(
      asSuperuser(fx.db.url, (c) => c.query(`UPDATE flow_versions SET definition = '{}' WHERE flow_id = $1`, [fx.flows[A]])),
    ).rejects.toThrow(/flow versions are immutable/);
  });

  it('records every publish in the audit trail, in the same transaction', async () => {
    const entries = await asSystem(fx.db.url, async (c) => (await c.query(`SELECT count(*)::int AS n FROM audit_logs WHERE action = 'flow.version_published' AND tenant_id = $1`, [fx.tenants[A]])).rows[0].n);
    expect(entries).toBe(22);
  });
});

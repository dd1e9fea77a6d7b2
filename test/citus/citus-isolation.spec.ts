import { SYSTEM_TENANT_ID } from '../../src';
import { asSystemOnCitus, asTenantOnCitus, type CitusDatabase, createServingCitusDatabase, describeOnCitus, withClient } from '../utils/citus';
import { crossTenantWrites, insertForTenant, seedTenant } from '../utils/tenant-sql';

interface Seed {
  tenant: string;
  flow: string;
  version: string;
}

const TENANT_TABLES = ['flows', 'flow_versions', 'execution_snapshots', 'execution_history', 'audit_logs'] as const;

/**
 * The isolation suite through the coordinator of a real cluster: the rows live on the workers'
 * shards, where RLS is enforced with the tenant Citus propagated to them.
 */
describeOnCitus('Row level security on a Citus cluster', () => {
  let db: CitusDatabase;
  let a: Seed;
  let b: Seed;
  const rowsOf = (tenant: string | null, table: string) =>
    asTenantOnCitus(db.url, tenant, async (c) => (await c.query(`SELECT tenant_id FROM ${table}`)).rows.map((r) => r.tenant_id));

  beforeAll(async () => {
    db = await createServingCitusDatabase();
    const seeds: Seed[] = [];
    for (const name of ['a', 'b']) seeds.push(await asSystemOnCitus(db.url, (c) => seedTenant(c, name)));
    await asSystemOnCitus(db.url, (c) => c.query(`INSERT INTO audit_logs (tenant_id, actor, action) VALUES ($1, 'seed', 'system entry')`, [SYSTEM_TENANT_ID]));
    [a, b] = seeds;
  });
  afterAll(() => db?.drop());

  describe.each(TENANT_TABLES)('%s', (table) => {
    it('a tenant reads only its own rows', async () => {
      expect(await rowsOf(a.tenant, table)).toEqual([a.tenant]);
      expect(await rowsOf(b.tenant, table)).toEqual([b.tenant]);
    });

    it("a tenant's UPDATE and DELETE of another tenant's rows change nothing", async () => {
      const outcome = await asTenantOnCitus(db.url, b.tenant, (c) => crossTenantWrites(c, table, a.tenant), true);
      for (const result of outcome) expect([0, '42501']).toContain(result);
      const left = await asSystemOnCitus(db.url, async (c) => Number((await c.query(`SELECT count(*) FROM ${table} WHERE tenant_id = $1`, [a.tenant])).rows[0].count));
      expect(left).toBe(1);
    });

    it('a tenant cannot INSERT a row for another tenant', async () => {
      await expect(asTenantOnCitus(db.url, b.tenant, (c) => c.query(insertForTenant(table, a), [a.tenant]))).rejects.toMatchObject({
        message: expect.stringMatching(/row-level security/),
      });
    });

    it.each([
      ['never set', null],
      ['left empty', ''],
    ])('with the tenant %s, zero rows and no error', async (_case, tenant) => {
      expect(await rowsOf(tenant as string | null, table)).toEqual([]);
    });
  });

  it('a tenant sees only its own tenants row (a reference table) and cannot create tenants', async () => {
    expect(await asTenantOnCitus(db.url, a.tenant, async (c) => (await c.query('SELECT id FROM tenants')).rows.map((r) => r.id))).toEqual([a.tenant]);
    await expect(asTenantOnCitus(db.url, a.tenant, (c) => c.query(`INSERT INTO tenants (name) VALUES ('x')`))).rejects.toMatchObject({ code: '42501' });
  });

  it.each([
    ["a version of B pointing at A's flow", (s: { a: Seed; b: Seed }) => [`INSERT INTO flow_versions (tenant_id, flow_id, version, definition, content_hash) VALUES ($1, $2, 5, '{}', repeat('c', 64))`, [s.b.tenant, s.a.flow]]],
    ["an execution of B pointing at A's version", (s: { a: Seed; b: Seed }) => [`INSERT INTO execution_snapshots (tenant_id, flow_id, flow_version_id) VALUES ($1, $2, $3)`, [s.b.tenant, s.b.flow, s.a.version]]],
    ["B's flow made current to A's version", (s: { a: Seed; b: Seed }) => [`UPDATE flows SET current_version_id = $1 WHERE tenant_id = $2 AND id = $3`, [s.a.version, s.b.tenant, s.b.flow]]],
  ] as const)('cross-tenant references are refused, even to fdl_system: %s', async (_case, statement) => {
    const [sql, params] = statement({ a, b }) as [string, unknown[]];
    await expect(asSystemOnCitus(db.url, (c) => c.query(sql, params), false)).rejects.toMatchObject({ code: '23503' });
  });

  it('negative control: with a tenant policy loosened on the shards, the isolation check sees the other tenant', async () => {
    const loosen = (using: string) =>
      withClient(db.url, (c) =>
        c.query(`SELECT run_command_on_shards('flows', $$ALTER POLICY flows_tenant_isolation ON %s USING (${using})$$)`),
      );
    await loosen('true');
    try {
      expect((await rowsOf(b.tenant, 'flows')).sort()).toEqual([a.tenant, b.tenant].sort());
    } finally {
      await loosen(`tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid`);
    }
    expect(await rowsOf(b.tenant, 'flows')).toEqual([b.tenant]);
  });

  it('a hostile tenant id never reaches the SET statement', async () => {
    await expect(asTenantOnCitus(db.url, `${a.tenant}'; RESET ROLE; --`, (c) => c.query('SELECT 1'))).rejects.toThrow(/tenant id/i);
  });
});

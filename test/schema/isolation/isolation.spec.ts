import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { createTestDatabase, type TestDatabase, withServerClient } from '../../utils/test-database';
import { loginUrl } from '../../utils/least-privilege';
import { asRole, asSuperuser, asSystem as asSystemOn, asTenant as asTenantOn, crossTenantWrites, insertForTenant, seedTenant, type TenantSeed } from '../../utils/tenant-sql';

/**
 * The suite runs once per login layout: one superuser login that switches roles (the simple layout,
 * and the hardest case for RLS), and the production layout's NOINHERIT logins, one that may become
 * fdl_app only and one that may become fdl_system only.
 */
const LAYOUTS: [string, (url: string, role: 'fdl_app' | 'fdl_system') => string][] = [
  ['one superuser login', (url) => url],
  ['least-privilege logins', (url, role) => loginUrl(url, role === 'fdl_app' ? 'runtime' : 'system')],
];

type Seed = TenantSeed;

/** Two tenants, each with one row in every table, and a system audit entry, written as the system role. */
async function seedTwoTenants(url: string): Promise<[Seed, Seed]> {
  return asSystemOn(url, async (c) => {
    const seeds: [Seed, Seed] = [await seedTenant(c, 'a'), await seedTenant(c, 'b')];
    await c.query(`INSERT INTO audit_logs (tenant_id, actor, action) VALUES ('00000000-0000-0000-0000-000000000000', 'seed', 'system entry')`);
    return seeds;
  });
}

const TENANT_TABLES = ['flows', 'flow_versions', 'execution_snapshots', 'execution_history', 'audit_logs'] as const;

describe.each(LAYOUTS)('Row level security (%s)', (_layout, login) => {
  let db: TestDatabase;
  const asTenant = <T>(url: string, tenant: string | null, work: (c: Client) => Promise<T>, commit = false) =>
    asTenantOn(url === db.url ? login(url, 'fdl_app') : url, tenant, work, commit);
  const asSystem = <T>(url: string, work: (c: Client) => Promise<T>, commit = true) =>
    asSystemOn(url === db.url ? login(url, 'fdl_system') : url, work, commit);
  let a: Seed;
  let b: Seed;
  const rowsOf = (tenant: string | null, table: string) =>
    asTenant(db.url, tenant, async (c) => (await c.query(`SELECT tenant_id FROM ${table}`)).rows.map((r) => r.tenant_id));
  const countAsSystem = (sql: string, params: unknown[]) => asSystem(db.url, async (c) => Number((await c.query(sql, params)).rows[0].count));

  beforeAll(async () => {
    db = await createTestDatabase();
    [a, b] = await seedTwoTenants(login(db.url, 'fdl_system'));
  });
  afterAll(() => db.drop());

  describe.each(TENANT_TABLES)('%s', (table) => {
    it('a tenant reads only its own rows', async () => {
      expect(await rowsOf(b.tenant, table)).toEqual([b.tenant]);
      expect(await rowsOf(a.tenant, table)).toEqual([a.tenant]);
    });

    it("a tenant's UPDATE and DELETE of another tenant's rows change nothing", async () => {
      const outcome = await asTenant(db.url, b.tenant, (c) => crossTenantWrites(c, table, a.tenant), true);
      for (const result of outcome) expect([0, '42501']).toContain(result);
      expect(await countAsSystem(`SELECT count(*) FROM ${table} WHERE tenant_id = $1`, [a.tenant])).toBe(1);
    });

    it("a tenant cannot INSERT a row for another tenant", async () => {
      await expect(asTenant(db.url, b.tenant, (c) => c.query(insertForTenant(table, a), [a.tenant]))).rejects.toMatchObject({
        code: '42501',
        message: expect.stringMatching(/row-level security/),
      });
    });

    it.each([
      ['never set', null],
      ['left empty by an earlier transaction', ''],
    ])('with the tenant %s, zero rows and no error', async (_case, tenant) => {
      expect(await rowsOf(tenant as string | null, table)).toEqual([]);
    });
  });

  it("the '' an earlier transaction leaves on the same connection matches nothing", async () => {
    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SELECT set_config('app.current_tenant_id', $1, true)`, [a.tenant]);
      await client.query('COMMIT');
      expect((await client.query(`SELECT current_setting('app.current_tenant_id', true) AS v`)).rows[0].v).toBe('');
      await client.query('BEGIN');
      await client.query('SET LOCAL ROLE fdl_app');
      expect((await client.query('SELECT * FROM flows')).rowCount).toBe(0);
      await client.query('ROLLBACK');
    } finally {
      await client.end();
    }
  });

  it('a tenant sees only its own tenants row and cannot create or change tenants', async () => {
    expect(await asTenant(db.url, a.tenant, async (c) => (await c.query('SELECT id FROM tenants')).rows.map((r) => r.id))).toEqual([a.tenant]);
    await expect(asTenant(db.url, a.tenant, (c) => c.query(`INSERT INTO tenants (name) VALUES ('x')`))).rejects.toMatchObject({ code: '42501' });
    await expect(asTenant(db.url, a.tenant, (c) => c.query(`UPDATE tenants SET status = 'active'`))).rejects.toMatchObject({ code: '42501' });
  });

  describe('cross-tenant references are refused by the schema, for every role', () => {
    const refusals: [string, (s: { a: Seed; b: Seed }) => [string, unknown[]]][] = [
      ["a version of B pointing at A's flow", ({ a, b }) => [`INSERT INTO flow_versions (tenant_id, flow_id, version, definition, content_hash) VALUES ($1, $2, 5, '{}', repeat('c', 64))`, [b.tenant, a.flow]]],
      ["an execution of B pointing at A's version", ({ a, b }) => [`INSERT INTO execution_snapshots (tenant_id, flow_id, flow_version_id) VALUES ($1, $2, $3)`, [b.tenant, b.flow, a.version]]],
      ["B's flow made current to A's version", ({ a, b }) => [`UPDATE flows SET current_version_id = $1 WHERE id = $2`, [a.version, b.flow]]],
    ];
    it.each(refusals)('%s (as fdl_system and as the superuser owner)', async (_case, statement) => {
      const [sql, params] = statement({ a, b });
      await expect(asSystem(db.url, (c) => c.query(sql, params), false)).rejects.toMatchObject({ code: '23503' });
      await expect(asSuperuser(db.url, (c) => c.query(sql, params))).rejects.toMatchObject({ code: '23503' });
    });

    it("a flow's current version must be one of that flow's own versions", async () => {
      const otherFlowOfA = await asSystem(db.url, async (c) => {
        const flow = (await c.query(`INSERT INTO flows (tenant_id, name) VALUES ($1, 'other') RETURNING id`, [a.tenant])).rows[0].id;
        return (await c.query(`INSERT INTO flow_versions (tenant_id, flow_id, version, definition, content_hash) VALUES ($1, $2, 1, '{}', repeat('d', 64)) RETURNING id`, [a.tenant, flow])).rows[0].id;
      });
      await expect(asSuperuser(db.url, (c) => c.query(`UPDATE flows SET current_version_id = $1 WHERE id = $2`, [otherFlowOfA, a.flow]))).rejects.toMatchObject({ code: '23503' });
    });
  });

  describe('audit_logs is append-only for everyone', () => {
    it.each([
      ['UPDATE', `UPDATE audit_logs SET action = 'rewritten'`],
      ['DELETE', `DELETE FROM audit_logs`],
      ['TRUNCATE', `TRUNCATE audit_logs`],
    ])('%s is refused even to the superuser owner', async (_case, sql) => {
      await expect(asSuperuser(db.url, (c) => c.query(sql))).rejects.toThrow(/audit_logs is append-only/);
    });

    it('the system role reads every entry, a tenant only its own', async () => {
      expect(await countAsSystem('SELECT count(*) FROM audit_logs', [])).toBeGreaterThanOrEqual(3);
      expect(await rowsOf(a.tenant, 'audit_logs')).toEqual([a.tenant]);
    });
  });

  describe('privileged logins', () => {
    const owner = `fdl_owner_${randomBytes(4).toString('hex')}`;
    const member = `fdl_member_${randomBytes(4).toString('hex')}`;
    const as = (user: string) => {
      const url = new URL(db.url);
      url.username = user;
      url.password = '';
      return url.toString();
    };
    beforeAll(async () => {
      await withServerClient((c) => c.query(`CREATE ROLE ${owner} LOGIN; CREATE ROLE ${member} LOGIN IN ROLE fdl_app`));
      await asSuperuser(db.url, (c) =>
        c.query(`GRANT fdl_app TO ${owner}; GRANT USAGE ON SCHEMA public TO ${owner};
                 ALTER TABLE flows OWNER TO ${owner}; ALTER TABLE execution_snapshots OWNER TO ${owner}`),
      );
    });
    afterAll(async () => {
      await asSuperuser(db.url, (c) => c.query(`ALTER TABLE flows OWNER TO CURRENT_USER; ALTER TABLE execution_snapshots OWNER TO CURRENT_USER; DROP OWNED BY ${owner}, ${member}`));
      await withServerClient((c) => c.query(`DROP ROLE ${owner}; DROP ROLE ${member}`));
    });

    it('the table owner without the role switch sees zero rows (RLS is forced), and with it only the tenant', async () => {
      const ownerUrl = as(owner);
      await asSuperuser(ownerUrl, async (c) => {
        expect((await c.query('SELECT * FROM flows')).rowCount).toBe(0);
      });
      expect(await asTenant(ownerUrl, a.tenant, async (c) => (await c.query('SELECT DISTINCT tenant_id FROM flows')).rows.map((r) => r.tenant_id))).toEqual([a.tenant]);
    });

    it('a superuser login after the role switch sees only the tenant (without it, RLS does not apply to superusers: by design)', async () => {
      expect(await asTenantOn(db.url, b.tenant, async (c) => (await c.query('SELECT DISTINCT tenant_id FROM execution_snapshots')).rows.map((r) => r.tenant_id))).toEqual([b.tenant]);
    });

    it('a login that is a member of fdl_app only cannot become fdl_system', async () => {
      await expect(asRole(as(member), { role: 'fdl_system' }, (c) => c.query('SELECT 1'))).rejects.toMatchObject({ code: '42501' });
    });

    it('fdl_app cannot reach a partition of execution_history directly', async () => {
      await expect(asTenant(db.url, a.tenant, (c) => c.query('SELECT * FROM execution_history_default'))).rejects.toMatchObject({ code: '42501' });
      await expect(asTenant(db.url, a.tenant, (c) => c.query(`DELETE FROM execution_history_default`))).rejects.toMatchObject({ code: '42501' });
    });
  });
});

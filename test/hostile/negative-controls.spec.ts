import { createTestDatabase, type TestDatabase } from '../utils/test-database';
import { asSuperuser, asSystem, asTenant } from '../utils/tenant-sql';

/**
 * Proves the isolation checks can fail: in a scratch database, each tenant policy in turn is
 * replaced by one that lets everything through, and the very check the isolation suite makes
 * (tenant B reads only its own rows) then sees tenant A's row.
 */
const POLICIES: [table: string, policy: string][] = [
  ['tenants', 'tenants_tenant_isolation'],
  ['flows', 'flows_tenant_isolation'],
  ['flow_versions', 'flow_versions_tenant_isolation'],
  ['execution_snapshots', 'execution_snapshots_tenant_isolation'],
  ['execution_history', 'execution_history_tenant_isolation'],
  ['audit_logs', 'audit_logs_tenant_isolation'],
];

describe('Negative controls', () => {
  let db: TestDatabase;
  let a: string;
  let b: string;
  /** The isolation check: what tenant B reads from `table` is only its own. */
  const bReadsOnlyItsOwn = async (table: string) => {
    const column = table === 'tenants' ? 'id' : 'tenant_id';
    const seen = await asTenant(db.url, b, async (c) => (await c.query(`SELECT ${column} AS tenant FROM ${table}`)).rows.map((r) => r.tenant));
    return seen.every((tenant) => tenant === b);
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    [a, b] = await asSystem(db.url, async (c) => {
      const ids = (await c.query(`INSERT INTO tenants (name) VALUES ('a'), ('b') RETURNING id`)).rows.map((r) => r.id);
      const flow = (await c.query(`INSERT INTO flows (tenant_id, name) VALUES ($1, 'f') RETURNING id`, [ids[0]])).rows[0].id;
      const version = (await c.query(`INSERT INTO flow_versions (tenant_id, flow_id, version, definition, content_hash) VALUES ($1, $2, 1, '{}', repeat('a', 64)) RETURNING id`, [ids[0], flow])).rows[0].id;
      await c.query(`INSERT INTO execution_snapshots (tenant_id, flow_id, flow_version_id) VALUES ($1, $2, $3)`, [ids[0], flow, version]);
      await c.query(`INSERT INTO execution_history (id, tenant_id, flow_id, flow_version_id, status, input, state, version, created_at, completed_at) VALUES (gen_random_uuid(), $1, $2, $3, 'completed', '{}', '{}', 1, now(), now())`, [ids[0], flow, version]);
      await c.query(`INSERT INTO audit_logs (tenant_id, actor, action) VALUES ($1, 'x', 'y')`, [ids[0]]);
      return ids;
    });
  });
  afterAll(() => db.drop());

  it.each(POLICIES)('with the policy of %s removed, the isolation check fails', async (table, policy) => {
    expect(await bReadsOnlyItsOwn(table)).toBe(true); // the rule in place: the check passes
    const original = await asSuperuser(db.url, async (c) => (await c.query(`SELECT qual FROM pg_policies WHERE policyname = $1`, [policy])).rows[0].qual as string);
    await asSuperuser(db.url, (c) => c.query(`ALTER POLICY ${policy} ON ${table} USING (true)`));
    try {
      expect(await bReadsOnlyItsOwn(table)).toBe(false); // the rule removed: the check catches it
    } finally {
      await asSuperuser(db.url, (c) => c.query(`ALTER POLICY ${policy} ON ${table} USING (${original})`));
    }
    expect(await bReadsOnlyItsOwn(table)).toBe(true);
  });
});

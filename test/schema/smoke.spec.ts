import { createTestDatabase, TestDatabase } from '../utils/test-database';
import { asSystem, asTenant } from '../utils/tenant-sql';

describe('schema smoke', () => {
  let db: TestDatabase;
  beforeAll(async () => { db = await createTestDatabase(); });
  afterAll(() => db.drop());

  it('creates tenants and isolates flows', async () => {
    const [a, b] = await asSystem(db.url, async (c) => {
      const { rows } = await c.query(`INSERT INTO tenants (name) VALUES ('a'), ('b') RETURNING id`);
      return rows.map((r) => r.id as string);
    });
    await asTenant(db.url, a, (c) => c.query(`INSERT INTO flows (tenant_id, name) VALUES ($1, 'f')`, [a]), true);
    const seenByB = await asTenant(db.url, b, async (c) => (await c.query('SELECT * FROM flows')).rowCount);
    const seenByA = await asTenant(db.url, a, async (c) => (await c.query('SELECT * FROM flows')).rowCount);
    expect(seenByB).toBe(0);
    expect(seenByA).toBe(1);
  });
});

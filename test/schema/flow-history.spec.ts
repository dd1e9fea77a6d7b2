import { createTestDatabase, type TestDatabase } from '../utils/test-database';
import { asSuperuser, asSystem, asTenant, seedTenant, type TenantSeed } from '../utils/tenant-sql';

/**
 * What a tenant may delete (migration 013): a flow without versions. A flow's versions, and the
 * executions and history that point at them, stay: the delete that would have cascaded to them is
 * refused, for every role.
 */
/** What PostgreSQL answers for a delete an ON DELETE RESTRICT key refuses: 23503, and 23001 from version 18. */
const RESTRICTED = expect.stringMatching(/^(23503|23001)$/);

describe('flow history', () => {
  let db: TestDatabase;
  let seed: TenantSeed;
  beforeAll(async () => {
    db = await createTestDatabase();
    seed = await asSystem(db.url, (c) => seedTenant(c, 'history'));
  });
  afterAll(() => db.drop());

  const counts = () =>
    asSuperuser(db.url, async (c) => {
      const [row] = (
        await c.query(
          `SELECT (SELECT count(*) FROM flow_versions WHERE tenant_id = $1)::int AS versions,
                  (SELECT count(*) FROM execution_snapshots WHERE tenant_id = $1)::int AS snapshots,
                  (SELECT count(*) FROM execution_history WHERE tenant_id = $1)::int AS history`,
          [seed.tenant],
        )
      ).rows;
      return row;
    });

  it('a tenant cannot delete a flow that has versions: its versions, executions and history stay', async () => {
    const before = await counts();
    expect(before).toEqual({ versions: 1, snapshots: 1, history: 1 });
    await expect(asTenant(db.url, seed.tenant, (c) => c.query(`DELETE FROM flows WHERE id = $1`, [seed.flow]), true)).rejects.toMatchObject({
      code: RESTRICTED,
      constraint: 'FK_flow_versions_flow',
    });
    expect(await counts()).toEqual(before);
  });

  it('so the same ids cannot be written again with other content', async () => {
    const rewrite = asTenant(db.url, seed.tenant, async (c) => {
      await c.query(`DELETE FROM flows WHERE id = $1`, [seed.flow]);
      await c.query(`INSERT INTO flows (id, tenant_id, name) VALUES ($1, $2, 'f')`, [seed.flow, seed.tenant]);
      await c.query(
        `INSERT INTO flow_versions (id, tenant_id, flow_id, version, definition, content_hash) VALUES ($1, $2, $3, 1, '{"rewritten": true}', repeat('b', 64))`,
        [seed.version, seed.tenant, seed.flow],
      );
    }, true);
    await expect(rewrite).rejects.toMatchObject({ code: RESTRICTED });
  });

  it('nor can the system role or the owner: the rule is the schema\'s', async () => {
    await expect(asSystem(db.url, (c) => c.query(`DELETE FROM flows WHERE id = $1`, [seed.flow]))).rejects.toMatchObject({ code: RESTRICTED });
    await expect(asSuperuser(db.url, (c) => c.query(`DELETE FROM flows WHERE id = $1`, [seed.flow]))).rejects.toMatchObject({ code: RESTRICTED });
  });

  it('a flow without versions (a draft) is deleted', async () => {
    const deleted = await asTenant(
      db.url,
      seed.tenant,
      async (c) => {
        const { id } = (await c.query(`INSERT INTO flows (tenant_id, name) VALUES ($1, 'draft') RETURNING id`, [seed.tenant])).rows[0];
        return (await c.query(`DELETE FROM flows WHERE id = $1`, [id])).rowCount;
      },
      true,
    );
    expect(deleted).toBe(1);
  });
});

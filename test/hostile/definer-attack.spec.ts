import { Client } from 'pg';
import { loginUrl } from '../utils/least-privilege';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';
import { asSuperuser, asSystem } from '../utils/tenant-sql';
import { functionViolations } from './function-rules';

const SCHEMA_TABLES = ['tenants', 'flows', 'flow_versions', 'execution_snapshots', 'execution_history', 'audit_logs'];

/**
 * The attack an outside audit found: a session that may become fdl_system shadows `pg_inherits` and
 * `pg_class` with temporary tables that describe `execution_snapshots` as a partition of
 * `execution_history`, then asks the owner's retention function to drop old partitions. Run in a
 * transaction that is rolled back; resolves to the schema's tables that still exist at its end.
 */
async function replayTempShadowAttack(url: string): Promise<string[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query('SET LOCAL ROLE fdl_system');
    await client.query(`
      CREATE TEMP TABLE pg_inherits AS
        SELECT 'public.execution_snapshots'::regclass::oid AS inhrelid, 'public.execution_history'::regclass::oid AS inhparent`);
    // A real partition's bound, so that the function finds a date it can compare with the cutoff.
    await client.query(`
      CREATE TEMP TABLE pg_class AS
        SELECT 'public.execution_snapshots'::regclass::oid AS oid, 'execution_snapshots'::name AS relname,
               c.relpartbound, c.relnamespace
        FROM pg_catalog.pg_class c
        WHERE c.oid = 'public.execution_history_y2000m01'::regclass`);
    // The function runs as the owner, who must be able to read the decoys.
    await client.query('GRANT SELECT ON pg_temp.pg_inherits, pg_temp.pg_class TO PUBLIC');
    await client.query(`SELECT fdl_drop_history_partitions_before(now() + interval '100 years')`);
    const { rows } = await client.query<{ name: string }>(
      `SELECT t AS name FROM unnest($1::text[]) t WHERE to_regclass('public.' || t) IS NOT NULL`,
      [SCHEMA_TABLES],
    );
    return rows.map((row) => row.name);
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
    await client.end();
  }
}

/** The retention function as it first shipped: search_path without pg_temp, catalogs unqualified. */
const VULNERABLE_RETENTION_FUNCTION = `
  CREATE OR REPLACE FUNCTION fdl_drop_history_partitions_before(cutoff timestamptz)
    RETURNS SETOF text LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog
  AS $$
  DECLARE
    partition record;
  BEGIN
    FOR partition IN
      SELECT c.oid::regclass AS qualified_name, c.relname::text AS name,
             (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']+)''\\)'))[1]::timestamptz AS upper_bound
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'public.execution_history'::regclass AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
    LOOP
      CONTINUE WHEN partition.upper_bound > cutoff;
      EXECUTE format('DROP TABLE %s', partition.qualified_name);
      RETURN NEXT partition.name;
    END LOOP;
  END
  $$`;

describe('SECURITY DEFINER functions against a temporary-table shadow', () => {
  let db: TestDatabase;
  const addOldPartition = (url: string) =>
    asSuperuser(loginUrl(url, 'owner'), (c) =>
      c.query(`CREATE TABLE execution_history_y2000m01 PARTITION OF execution_history FOR VALUES FROM ('2000-01-01') TO ('2000-02-01')`),
    );

  beforeAll(async () => {
    db = await createTestDatabase();
    await addOldPartition(db.url);
  });
  afterAll(() => db.drop());

  it('the system login replays the attack and every table is still there', async () => {
    await expect(replayTempShadowAttack(loginUrl(db.url, 'system'))).resolves.toEqual(SCHEMA_TABLES);
  });

  it('the same attack against the function as it first shipped drops execution_snapshots, and the catalog rules flag it', async () => {
    const scratch = await createTestDatabase();
    try {
      await addOldPartition(scratch.url);
      // Replaced by the owner, so that it keeps running with the owner's rights as the shipped one does.
      await asSuperuser(loginUrl(scratch.url, 'owner'), (c) => c.query(VULNERABLE_RETENTION_FUNCTION));
      const survivors = await replayTempShadowAttack(loginUrl(scratch.url, 'system'));
      expect(survivors).not.toContain('execution_snapshots');
      expect(survivors).toEqual(SCHEMA_TABLES.filter((table) => table !== 'execution_snapshots'));
      await expect(asSuperuser(scratch.url, functionViolations)).resolves.toContain(
        'SECURITY DEFINER fdl_drop_history_partitions_before(timestamp with time zone): search_path does not list pg_temp last (search_path=pg_catalog)',
      );
    } finally {
      await scratch.drop();
    }
  });

  it('the system path itself still drops old partitions through the shipped function', async () => {
    const dropped = await asSystem(db.url, async (c) =>
      (await c.query(`SELECT fdl_drop_history_partitions_before('2001-01-01') AS name`)).rows.map((r) => r.name), false);
    expect(dropped).toEqual(['execution_history_y2000m01']);
  });
});

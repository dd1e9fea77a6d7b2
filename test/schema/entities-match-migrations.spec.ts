import { DataSource } from 'typeorm';
import { DATABASE_ENTITIES } from '../../src/entities';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';

/**
 * The entities declare every column, key, check and index the migrations create, so TypeORM's schema
 * builder proposes no change on a migrated database. The DESC indexes, which `@Index` cannot describe,
 * are declared with `synchronize: false`, which leaves them to the migrations. The builder matches
 * checks, foreign keys and indexes by name: it does not compare a check's expression or an index's WHERE.
 * So a second test lets TypeORM create the schema from the decorators (`synchronize: true`) in an empty
 * database and compares what PostgreSQL stores for them with what the migrations created.
 */
describe('entities (DATABASE_ENTITIES)', () => {
  let migrated: TestDatabase;
  let empty: TestDatabase;
  let dataSource: DataSource;
  let synchronized: DataSource;
  beforeAll(async () => {
    [migrated, empty] = await Promise.all([createTestDatabase(), createTestDatabase({ migrated: false })]);
    const options = { type: 'postgres', entities: DATABASE_ENTITIES, installExtensions: false, uuidExtension: 'pgcrypto' } as const;
    [dataSource, synchronized] = await Promise.all([
      new DataSource({ ...options, url: migrated.url }).initialize(),
      new DataSource({ ...options, url: empty.url, synchronize: true }).initialize(),
    ]);
  });
  afterAll(async () => {
    await Promise.all([dataSource?.destroy(), synchronized?.destroy()]);
    await Promise.all([migrated?.drop(), empty?.drop()]);
  });

  it('match the migrated schema: TypeORM would change nothing', async () => {
    const proposed = (await dataSource.driver.createSchemaBuilder().log()).upQueries.map((query) => query.query);
    expect(proposed).toEqual([]);
  });

  it('create the same checks, foreign keys and indexes as the migrations, down to expressions and WHERE clauses', async () => {
    const tables = synchronized.entityMetadatas.map((metadata) => metadata.tableName);
    // The DESC indexes exist only in the migrations.
    const migrationsOnly = synchronized.entityMetadatas.flatMap((metadata) =>
      metadata.indices.filter((index) => index.synchronize === false).map((index) => index.name),
    );
    const [fromMigrations, fromEntities] = await Promise.all([
      definitions(dataSource, tables, migrationsOnly),
      definitions(synchronized, tables, migrationsOnly),
    ]);
    expect(fromEntities).toEqual(fromMigrations);
    // Two empty results would be equal too: make sure the comparison covered the decorators.
    expect(Object.keys(fromMigrations)).toEqual(
      expect.arrayContaining(['execution_snapshots.CHK_execution_snapshots_version', 'audit_logs.UQ_audit_logs_tenant_chain_position', 'flows.PK_flows']),
    );
  });
});

/**
 * `table.name` → definition of the check and foreign-key constraints and the indexes (primary keys and
 * unique constraints included) of `tables`, less the indexes named in `exceptIndexes`. An index of a
 * partitioned table reads `ON ONLY`; the synchronized `execution_history` is a plain table, so that word goes.
 */
async function definitions(dataSource: DataSource, tables: string[], exceptIndexes: string[]): Promise<Record<string, string>> {
  const rows: { key: string; definition: string }[] = await dataSource.query(
    // Whether a constraint was validated is the state of the data, not the shape of the schema.
    `SELECT t.relname || '.' || c.conname AS key, replace(pg_get_constraintdef(c.oid), ' NOT VALID', '') AS definition
       FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
      WHERE t.relnamespace = 'public'::regnamespace AND t.relname = ANY ($1) AND c.contype IN ('c', 'f')
     UNION ALL
     SELECT t.relname || '.' || i.relname, replace(pg_get_indexdef(x.indexrelid), ' ON ONLY ', ' ON ')
       FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
      WHERE t.relnamespace = 'public'::regnamespace AND t.relname = ANY ($1) AND i.relname <> ALL ($2)
      ORDER BY key`,
    [tables, exceptIndexes],
  );
  return Object.fromEntries(rows.map(({ key, definition }) => [key, definition]));
}

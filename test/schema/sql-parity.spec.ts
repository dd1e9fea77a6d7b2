import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderSqlMigrations } from '../../scripts/sql-migrations';
import { applySqlFiles, SQL_MIGRATIONS_DIR, withDataSource } from '../utils/migrate';
import { schemaSnapshot } from '../utils/schema-snapshot';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';

describe('Plain SQL migrations', () => {
  const databases: TestDatabase[] = [];
  afterAll(() => Promise.all(databases.map((db) => db.drop())));

  it('are exactly what the TypeORM migrations render (run `npm run migrations:sql` after changing one)', async () => {
    const rendered = await renderSqlMigrations();
    const committed = readdirSync(SQL_MIGRATIONS_DIR).filter((file) => file.endsWith('.sql')).sort();
    expect(committed).toEqual(rendered.map((m) => m.file));
    for (const { file, sql } of rendered) expect(readFileSync(join(SQL_MIGRATIONS_DIR, file), 'utf8')).toBe(sql);
    expect(committed.slice(0, 6)).toEqual([
      '001_create_tenants.sql',
      '002_create_flows.sql',
      '003_create_flow_versions.sql',
      '004_create_execution_snapshots.sql',
      '005_create_execution_history.sql',
      '006_create_audit_logs.sql',
    ]);
  });

  it('give the same schema as the TypeORM migrations: tables, columns, constraints, indexes, policies, grants, triggers, functions', async () => {
    const [viaSql, viaTypeorm] = await Promise.all([createTestDatabase({ migrated: false }), createTestDatabase({ migrated: false })]);
    databases.push(viaSql, viaTypeorm);
    await applySqlFiles(viaSql.url, readdirSync(SQL_MIGRATIONS_DIR).filter((file) => file.endsWith('.sql')).sort());
    await withDataSource(viaTypeorm.url, (dataSource) => dataSource.runMigrations({ transaction: 'each' }));
    const [a, b] = await Promise.all([schemaSnapshot(viaSql.url), schemaSnapshot(viaTypeorm.url)]);
    expect(a).toEqual(b);
    expect(a.tables).toHaveLength(7); // six tables and the default history partition
    expect(a.policies.length).toBeGreaterThanOrEqual(12);
  });
});

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderSqlMigrations, SQL_MIGRATIONS_DIRECTORY } from '../../scripts/sql-migrations';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { applySqlFiles, withDataSource } from '../utils/migrate';
import { schemaSnapshot } from '../utils/schema-snapshot';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';

const committedFiles = () => readdirSync(SQL_MIGRATIONS_DIRECTORY).filter((file) => file.endsWith('.sql')).sort();

describe('plain SQL migrations (migrations/*.sql)', () => {
  it('are exactly what the TypeORM migrations render: run `npm run migrations:sql` after changing a migration', async () => {
    const rendered = await renderSqlMigrations();
    const onDisk = committedFiles().map((file) => ({ file, sql: readFileSync(join(SQL_MIGRATIONS_DIRECTORY, file), 'utf8') }));
    expect(onDisk).toEqual(rendered);
    expect(onDisk.map(({ file }) => file).slice(0, 6)).toEqual([
      '001_create_tenants.sql',
      '002_create_flows.sql',
      '003_create_flow_versions.sql',
      '004_create_execution_snapshots.sql',
      '005_create_execution_history.sql',
      '006_create_audit_logs.sql',
    ]);
  });

  describe('applied one transaction per file, as sqlx and `psql -1` do', () => {
    let viaSql: TestDatabase;
    let viaTypeorm: TestDatabase;
    beforeAll(async () => {
      [viaSql, viaTypeorm] = await Promise.all([createTestDatabase({ migrated: false }), createTestDatabase({ migrated: false })]);
    });
    afterAll(() => Promise.all([viaSql?.drop(), viaTypeorm?.drop()]));

    it('give the same schema as the TypeORM migrations, down to function bodies, policies and grants', async () => {
      await Promise.all([
        applySqlFiles(viaSql.url, committedFiles()),
        withDataSource(viaTypeorm.url, (dataSource) => dataSource.runMigrations({ transaction: 'all' })),
      ]);
      const [fromSql, fromTypeorm] = await Promise.all([schemaSnapshot(viaSql.url), schemaSnapshot(viaTypeorm.url)]);
      expect(fromSql).toEqual(fromTypeorm);
      // Two empty snapshots would be equal too: make sure the comparison covered the schema.
      expect(fromSql.tables.map((table) => table.name)).toEqual([
        'audit_logs',
        'execution_history',
        'execution_history_default',
        'execution_snapshots',
        'flow_versions',
        'flows',
        'tenants',
      ]);
      expect(fromSql.functions).toHaveLength(10);
    });
  });

  describe(renderSqlMigrations.name, () => {
    class AddThing1700000000000 implements MigrationInterface {
      name = 'AddThing1700000000000';
      async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`
          CREATE FUNCTION thing() RETURNS text LANGUAGE sql
          AS $body$
            SELECT 'a
              b'
          $body$`);
        await queryRunner.query(`
          COMMENT ON TABLE t IS 'line one
            line two' -- why`);
      }
      async down(): Promise<void> {}
    }

    it('dedents each statement but keeps string literals and dollar-quoted bodies byte for byte', async () => {
      const [rendered] = await renderSqlMigrations([AddThing1700000000000]);
      expect(rendered.file).toBe('001_add_thing.sql');
      expect(rendered.sql.split('\n\n').slice(1)).toEqual([
        'CREATE FUNCTION thing() RETURNS text LANGUAGE sql\nAS $body$\n            SELECT \'a\n              b\'\n          $body$;',
        "COMMENT ON TABLE t IS 'line one\n            line two' -- why\n;\n",
      ]);
    });

    it('refuses a migration that needs more than queryRunner.query(sql): its SQL would be missing from the file', async () => {
      class UsesTheSchemaApi1700000000001 implements MigrationInterface {
        async up(queryRunner: QueryRunner): Promise<void> {
          await queryRunner.dropTable('t');
        }
        async down(): Promise<void> {}
      }
      class UsesParameters1700000000002 implements MigrationInterface {
        async up(queryRunner: QueryRunner): Promise<void> {
          await queryRunner.query('INSERT INTO t VALUES ($1)', [1]);
        }
        async down(): Promise<void> {}
      }
      await expect(renderSqlMigrations([UsesTheSchemaApi1700000000001])).rejects.toThrow(/uses queryRunner\.dropTable/);
      await expect(renderSqlMigrations([UsesParameters1700000000002])).rejects.toThrow(/query parameters/);
    });
  });
});

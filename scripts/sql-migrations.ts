import type { MigrationInterface, QueryRunner } from 'typeorm';
import { DATABASE_MIGRATIONS } from '../src/migrations';

/** One plain-SQL migration file: its name under migrations/ and its text. */
export interface SqlMigration {
  file: string;
  sql: string;
}

/**
 * Renders the TypeORM migrations (the source of truth) as plain SQL files for psql and sqlx:
 * each migration's `up()` runs against an object that only records the SQL it is given.
 */
export async function renderSqlMigrations(): Promise<SqlMigration[]> {
  const rendered: SqlMigration[] = [];
  for (const [index, Migration] of DATABASE_MIGRATIONS.entries()) {
    const statements: string[] = [];
    const recorder = { query: async (sql: string) => void statements.push(dedent(sql)) } as unknown as QueryRunner;
    const migration: MigrationInterface = new Migration();
    await migration.up(recorder);
    const verbNoun = Migration.name.replace(/\d+$/, '');
    rendered.push({
      file: `${String(index + 1).padStart(3, '0')}_${snakeCase(verbNoun)}.sql`,
      sql: [
        `-- ${verbNoun}: generated from src/migrations (${Migration.name}) by \`npm run migrations:sql\`.`,
        '-- Do not edit by hand: a test fails when this file and the TypeORM migration differ.',
        '-- psql: psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -1 -f this-file.sql',
        '-- sqlx: sqlx migrate run --source migrations (each file runs in its own transaction)',
        '',
        statements.map((statement) => `${statement};`).join('\n\n'),
        '',
      ].join('\n'),
    });
  }
  return rendered;
}

function snakeCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

/** Removes the indentation the SQL has inside the TypeScript template literal. */
function dedent(sql: string): string {
  const lines = sql.replace(/^\n+/, '').replace(/\s+$/, '').split('\n');
  const indent = Math.min(...lines.filter((line) => line.trim()).map((line) => line.match(/^ */)![0].length));
  return lines.map((line) => line.slice(indent)).join('\n');
}

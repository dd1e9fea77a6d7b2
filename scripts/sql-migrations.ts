/**
 * The plain SQL migrations (`migrations/*.sql`, for `psql` and `sqlx`) rendered from the TypeORM
 * migrations, which stay the only source: each `up()` runs against a recorder that keeps the text of
 * every `queryRunner.query(sql)` call. `npm run migrations:sql` writes the files;
 * test/schema/sql-parity.spec.ts fails when they differ from what this renders.
 */
import path from 'node:path';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { DATABASE_MIGRATIONS } from '../src/migrations';

export const SQL_MIGRATIONS_DIRECTORY = path.resolve(__dirname, '..', 'migrations');

/** One rendered file: its name inside `migrations/` and its full text. */
export interface SqlMigration {
  file: string;
  sql: string;
}

type MigrationClass = new () => MigrationInterface;

/** Renders every migration of `migrations`, in order, as `001_<verb_noun>.sql`, `002_…`. */
export async function renderSqlMigrations(migrations: MigrationClass[] = DATABASE_MIGRATIONS): Promise<SqlMigration[]> {
  const rendered: SqlMigration[] = [];
  for (const [index, Migration] of migrations.entries()) {
    const migration = new Migration();
    const name = migration.name ?? Migration.name;
    const file = sqlMigrationFileName(index + 1, name);
    const statements = await recordUp(migration, name);
    rendered.push({ file, sql: renderFile(file, name, statements) });
  }
  return rendered;
}

/** `(3, 'CreateFlowVersions1795478400003')` → `003_create_flow_versions.sql`. */
export function sqlMigrationFileName(position: number, migrationName: string): string {
  const verbNoun = migrationName.replace(/\d+$/, '');
  if (!/^[A-Z][A-Za-z0-9]*$/.test(verbNoun)) {
    throw new Error(`migration name ${JSON.stringify(migrationName)} is not <VerbNoun><timestamp>`);
  }
  const snake = verbNoun.replace(/(?<=[a-z0-9])([A-Z])/g, '_$1').toLowerCase();
  return `${String(position).padStart(3, '0')}_${snake}.sql`;
}

/**
 * Runs `up()` against an object that only records SQL text. Anything else a migration might use
 * (TypeORM's schema builder API, query parameters) has no plain SQL form here, so it fails loudly
 * instead of being left out of the file.
 */
async function recordUp(migration: MigrationInterface, name: string): Promise<string[]> {
  const statements: string[] = [];
  const query = async (sql: string, parameters?: unknown[]): Promise<unknown[]> => {
    if (parameters !== undefined && parameters.length > 0) {
      throw new Error(`${name} passes query parameters, which a plain SQL file cannot carry`);
    }
    statements.push(sql);
    return [];
  };
  const recorder = new Proxy(
    { query },
    {
      get(target, property) {
        if (property === 'query') return target.query;
        if (property === 'then') return undefined;
        throw new Error(
          `${name} uses queryRunner.${String(property)}: only queryRunner.query(sql) can be rendered as plain SQL`,
        );
      },
    },
  );
  await migration.up(recorder as unknown as QueryRunner);
  return statements;
}

function renderFile(file: string, migrationName: string, statements: string[]): string {
  const header = [
    `-- ${file}: generated from the TypeORM migration ${migrationName} (src/migrations/).`,
    '-- Do not edit by hand: change the migration, then run `npm run migrations:sql`.',
    '--',
    `-- Apply in one transaction: psql -v ON_ERROR_STOP=1 -1 -f ${file}`,
    '-- or with sqlx migrate run (sqlx wraps each file in a transaction).',
  ].join('\n');
  const body = statements.map(terminate).filter((statement) => statement !== '');
  return `${[header, ...body].join('\n\n')}\n`;
}

function terminate(statement: string): string {
  const { text, endsInLineComment } = dedentSql(statement);
  if (text === '' || text.endsWith(';')) return text;
  return endsInLineComment ? `${text}\n;` : `${text};`;
}

/**
 * Removes the indentation a statement has in its template literal, but only from lines that start
 * outside a string, quoted identifier or dollar-quoted body: a function's body is stored as written,
 * and keeping it byte for byte is what lets the files and the TypeORM migrations leave identical
 * catalogs (`pg_get_functiondef`), which test/schema/sql-parity.spec.ts compares.
 */
export function dedentSql(statement: string): { text: string; endsInLineComment: boolean } {
  const startsOnNewLine = /^[ \t]*\r?\n/.test(statement);
  const source = statement.replace(/^(?:[ \t]*\r?\n)+/, '').trimEnd();
  const { lines, endsInLineComment } = splitLines(source);
  const indents = lines
    .filter((line, index) => line.startsInCode && line.text.trim() !== '' && (startsOnNewLine || index > 0))
    .map((line) => /^[ \t]*/.exec(line.text)![0].length);
  const indent = indents.length > 0 ? Math.min(...indents) : 0;
  const text = lines
    .map((line) => {
      if (!line.startsInCode) return line.text;
      return line.text.trim() === '' ? '' : line.text.slice(Math.min(indent, /^[ \t]*/.exec(line.text)![0].length));
    })
    .join('\n');
  return { text, endsInLineComment };
}

interface SourceLine {
  text: string;
  /** False when the line begins inside a string, quoted identifier, dollar quote or block comment. */
  startsInCode: boolean;
}

/** A small PostgreSQL lexer: just enough to know, at each line start, whether it is inside a literal. */
function splitLines(sql: string): { lines: SourceLine[]; endsInLineComment: boolean } {
  const lines: SourceLine[] = [];
  let lineStart = 0;
  let startsInCode = true;
  let state: 'code' | 'single' | 'escape-string' | 'identifier' | 'dollar' | 'line-comment' | 'block-comment' = 'code';
  let dollarTag = '';
  let commentDepth = 0;
  let i = 0;
  while (i < sql.length) {
    const char = sql[i];
    const next = sql[i + 1];
    if (char === '\n') {
      lines.push({ text: sql.slice(lineStart, i).replace(/\r$/, ''), startsInCode });
      if (state === 'line-comment') state = 'code';
      lineStart = i + 1;
      startsInCode = state === 'code';
      i += 1;
      continue;
    }
    switch (state) {
      case 'code': {
        const dollar = char === '$' ? /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i)) : null;
        if (char === '-' && next === '-') {
          state = 'line-comment';
          i += 2;
        } else if (char === '/' && next === '*') {
          state = 'block-comment';
          commentDepth = 1;
          i += 2;
        } else if (char === "'") {
          state = /(^|[^A-Za-z0-9_$])[eE]$/.test(sql.slice(Math.max(0, i - 2), i)) ? 'escape-string' : 'single';
          i += 1;
        } else if (char === '"') {
          state = 'identifier';
          i += 1;
        } else if (dollar && !/[A-Za-z0-9_$]/.test(sql[i - 1] ?? '')) {
          state = 'dollar';
          dollarTag = dollar[0];
          i += dollarTag.length;
        } else {
          i += 1;
        }
        break;
      }
      case 'single':
      case 'escape-string':
        if (state === 'escape-string' && char === '\\') i += 2;
        else if (char === "'" && next === "'") i += 2;
        else {
          if (char === "'") state = 'code';
          i += 1;
        }
        break;
      case 'identifier':
        if (char === '"' && next === '"') i += 2;
        else {
          if (char === '"') state = 'code';
          i += 1;
        }
        break;
      case 'dollar':
        if (sql.startsWith(dollarTag, i)) {
          state = 'code';
          i += dollarTag.length;
        } else {
          i += 1;
        }
        break;
      case 'block-comment':
        if (char === '/' && next === '*') {
          commentDepth += 1;
          i += 2;
        } else if (char === '*' && next === '/') {
          commentDepth -= 1;
          if (commentDepth === 0) state = 'code';
          i += 2;
        } else {
          i += 1;
        }
        break;
      case 'line-comment':
        i += 1;
        break;
    }
  }
  lines.push({ text: sql.slice(lineStart).replace(/\r$/, ''), startsInCode });
  if (state !== 'code' && state !== 'line-comment') {
    throw new Error(`unterminated ${state} in statement:\n${sql}`);
  }
  return { lines, endsInLineComment: state === 'line-comment' };
}

/** `npm run migrations:sql`: writes migrations/NNN_verb_noun.sql from the TypeORM migrations. */
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderSqlMigrations, SQL_MIGRATIONS_DIRECTORY } from './sql-migrations';

async function main(): Promise<void> {
  const rendered = await renderSqlMigrations();
  const keep = new Set(rendered.map((migration) => migration.file));
  // A stale file (a renamed migration) would still be applied by sqlx and by the psql loop.
  for (const file of readdirSync(SQL_MIGRATIONS_DIRECTORY)) {
    if (file.endsWith('.sql') && !keep.has(file)) rmSync(join(SQL_MIGRATIONS_DIRECTORY, file));
  }
  for (const { file, sql } of rendered) writeFileSync(join(SQL_MIGRATIONS_DIRECTORY, file), sql);
  console.log(`wrote ${rendered.length} files to migrations/`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

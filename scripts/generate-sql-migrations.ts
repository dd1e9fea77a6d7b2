/** `npm run migrations:sql`: writes migrations/NNN_verb_noun.sql from the TypeORM migrations. */
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderSqlMigrations } from './sql-migrations';

async function main(): Promise<void> {
  const dir = join(__dirname, '..', 'migrations');
  const rendered = await renderSqlMigrations();
  const keep = new Set(rendered.map((m) => m.file));
  for (const file of readdirSync(dir)) if (file.endsWith('.sql') && !keep.has(file)) rmSync(join(dir, file));
  for (const { file, sql } of rendered) writeFileSync(join(dir, file), sql);
  console.log(`wrote ${rendered.length} files to migrations/`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

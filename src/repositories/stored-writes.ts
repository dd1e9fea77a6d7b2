import { AsyncLocalStorage } from 'node:async_hooks';
import type { EntityMetadata, QueryRunner } from 'typeorm';
import { EntityNotStoredError } from '../tenancy/tenancy.errors';

/** The entity whose `save()` is running in this async context, with the table its UPDATEs target. */
const saving = new AsyncLocalStorage<{ entity: string; table: string }>();
const guarded = new WeakSet<QueryRunner>();

type QueryFunction = QueryRunner['query'];

/**
 * Runs `save` so that an UPDATE of the entity's own table that stores nothing fails it with
 * {@link EntityNotStoredError}: TypeORM resolves `save()` whatever the UPDATE's row count. Tree
 * entities are left to TypeORM: their path updates may rightly touch no row.
 */
export function savedOrRefused<T>(queryRunner: QueryRunner, metadata: EntityMetadata, save: () => Promise<T>): Promise<T> {
  if (metadata.treeType) return save();
  guard(queryRunner);
  return saving.run({ entity: metadata.name, table: metadata.tablePath }, save);
}

/** Once per query runner: TypeORM's UPDATE of a saved entity asks for the structured result, with its row count. */
function guard(queryRunner: QueryRunner): void {
  if (guarded.has(queryRunner)) return;
  guarded.add(queryRunner);
  const query: QueryFunction = queryRunner.query.bind(queryRunner);
  queryRunner.query = (async (sql: string, parameters?: unknown[], structured?: boolean) => {
    const result = await query(sql, parameters, structured as true);
    const save = saving.getStore();
    if (save && structured && (result as { affected?: number }).affected === 0 && updates(sql, save.table)) throw new EntityNotStoredError(save.entity);
    return result;
  }) as QueryFunction;
}

/** Whether `sql` is TypeORM's UPDATE of `table` (it writes `UPDATE "table" SET …`). */
function updates(sql: string, table: string): boolean {
  return sql.startsWith(`UPDATE "${table.replace(/\./g, '"."')}" SET `);
}

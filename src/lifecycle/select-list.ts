import type { DataSource, EntityTarget, ObjectLiteral } from 'typeorm';

/**
 * `col AS "property", …` for every column of `entity`, from its TypeORM metadata: raw SQL that
 * RETURNs these gets rows shaped like the entity, with no mapping code to keep in step.
 */
export function selectList(dataSource: DataSource, entity: EntityTarget<ObjectLiteral>, alias?: string): string {
  const prefix = alias ? `${alias}.` : '';
  return dataSource
    .getMetadata(entity)
    .columns.map((column) => `${prefix}${column.databaseName} AS "${column.propertyName}"`)
    .join(', ');
}

/** Assigns a raw row (already shaped by {@link selectList}) to a new entity instance. */
export function toEntity<T extends ObjectLiteral>(entity: new () => T, row: Record<string, unknown>): T {
  return Object.assign(new entity(), row);
}

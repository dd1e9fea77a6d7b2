import type { EntityMetadata } from 'typeorm';

/**
 * An entity stored as one plain row of one table: no relations, embeddeds, inheritance or soft
 * delete. The compiled finds and inserts handle only these; TypeORM keeps everything else.
 */
export function isFlatEntity(metadata: EntityMetadata): boolean {
  return (
    metadata.tableType === 'regular' &&
    metadata.relations.length === 0 &&
    metadata.embeddeds.length === 0 &&
    metadata.relationIds.length === 0 &&
    metadata.childEntityMetadatas.length === 0 &&
    !metadata.discriminatorColumn &&
    !metadata.deleteDateColumn
  );
}

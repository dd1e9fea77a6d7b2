import { SessionGuard } from '../connection/session-guard';
import type { DataSource, EntityMetadata, ObjectLiteral } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata';
import { isFlatEntity } from './flat-entity';
import { assignTenant } from '../tenancy/tenant-column';
import { TenantColumnSubscriber } from './tenant-column.subscriber';
import type { ScopedTransaction } from '../transaction/scoped-transaction';
import { EntityNotStoredError } from '../tenancy/tenancy.errors';

/** Column types whose insert TypeORM writes as a plain bind parameter on PostgreSQL. */
const PLAIN_TYPES = new Set<unknown>(['uuid', 'text', 'varchar', 'character varying', 'integer', 'int', 'int4', 'smallint', 'bigint', 'int8', 'boolean', 'jsonb', 'json', 'timestamptz', 'timestamp with time zone']);
/** Enough distinct shapes (which columns are given) for any real repository. */
const MAX_SHAPES = 64;

interface CompiledInsert {
  sql: string;
  /** The columns bound, in placeholder order. */
  bound: ColumnMetadata[];
}

/**
 * `save()` of one new entity as an INSERT compiled once per shape (which columns have a value)
 * instead of through TypeORM's persistence and query builder on every call, the largest Node CPU
 * share of a write. It does what TypeORM's save does for such an entity, in the same order: the
 * tenant column filled or a different tenant refused (TenantColumnSubscriber's rule), the same
 * INSERT text (`DEFAULT` for unset columns, `RETURNING` the columns the database fills), nullable
 * unset properties set to null, the returned values merged into the same object, which is returned.
 *
 * Anything else goes to TypeORM: several entities, save options, an entity that may already exist
 * (a generated key given), an entity with relations, embeddeds, inheritance, a version column,
 * listeners, column transformers or types TypeORM casts, a subscriber of inserts other than the
 * module's, a value that is an SQL function.
 */
export class CompiledInserts {
  private readonly shapes = new Map<string, CompiledInsert>();
  private eligible?: boolean;

  constructor(private readonly dataSource: DataSource) {}

  /** Runs the insert if the call qualifies; undefined means "use TypeORM's save". */
  run<T extends ObjectLiteral>(metadata: EntityMetadata, transaction: ScopedTransaction, entity: unknown, options: unknown): Promise<T> | undefined {
    if (options !== undefined || !this.isEligible(metadata) || !isEntityObject(entity, metadata)) return undefined;
    // A generated key given means an entity that may exist: TypeORM loads it first to choose.
    if (metadata.primaryColumns.some((column) => column.isGenerated && column.getEntityValue(entity) !== undefined)) return undefined;
    const given = metadata.columns.map((column) => column.getEntityValue(entity) !== undefined);
    for (const [index, column] of metadata.columns.entries()) {
      if (!given[index]) continue;
      // TypeORM writes a function's result into the SQL; generated and date columns take DEFAULT.
      if (typeof column.getEntityValue(entity) === 'function' || column.isGenerated || column.isCreateDate || column.isUpdateDate) return undefined;
    }
    return this.insert(metadata, transaction, entity as T);
  }

  private async insert<T extends ObjectLiteral>(metadata: EntityMetadata, transaction: ScopedTransaction, entity: T): Promise<T> {
    // What TenantColumnSubscriber.beforeInsert does on TypeORM's path (it throws TenantMismatchError).
    if (transaction.scope.kind === 'tenant') assignTenant(metadata, entity, transaction.scope.tenantId);
    const compiled = this.compile(metadata, entity);
    const driver = this.dataSource.driver;
    const values = compiled.bound.map((column) => driver.preparePersistentValue(column.getEntityValue(entity), column));
    const queryRunner = transaction.manager.queryRunner!;
    const { records: rows, affected } = (await queryRunner.query(compiled.sql, values, true)) as { records: Record<string, unknown>[]; affected?: number };
    // A trigger that skipped the row: never answer as if it was stored (TypeORM's path: stored-writes.ts).
    if (affected === 0) throw new EntityNotStoredError(metadata.name);
    for (const column of metadata.columns) {
      if (column.isNullable && column.getEntityValue(entity) === undefined) column.setEntityValue(entity, null);
    }
    // TypeORM merges the returned values as the driver gave them (createGeneratedMap).
    const returned = rows[0] ?? {};
    for (const column of metadata.columns) {
      if (column.databaseName in returned) column.setEntityValue(entity, returned[column.databaseName]);
    }
    return entity;
  }

  private compile(metadata: EntityMetadata, entity: ObjectLiteral): CompiledInsert {
    const shape = metadata.columns.map((column) => (column.getEntityValue(entity) === undefined ? '0' : '1')).join('');
    const cached = this.shapes.get(shape);
    if (cached) return cached;
    const driver = this.dataSource.driver;
    const bound: ColumnMetadata[] = [];
    const valueList = metadata.columns.map((column) => {
      if (column.getEntityValue(entity) === undefined) return 'DEFAULT';
      bound.push(column);
      return `$${bound.length}`;
    });
    const returning = metadata.getInsertionReturningColumns().map((column) => driver.escape(column.databaseName));
    const table = metadata.tablePath.split('.').map((part) => driver.escape(part)).join('.');
    const columnList = metadata.columns.map((column) => driver.escape(column.databaseName)).join(', ');
    const compiled = {
      sql: `INSERT INTO ${table}(${columnList}) VALUES (${valueList.join(', ')})${returning.length ? ` RETURNING ${returning.join(', ')}` : ''}`,
      bound,
    };
    if (this.shapes.size < MAX_SHAPES) this.shapes.set(shape, compiled);
    SessionGuard.registerModuleStatement(compiled.sql);
    return compiled;
  }

  private isEligible(metadata: EntityMetadata): boolean {
    // Subscribers can be added after start: checked on every call (a short array).
    const subscribers = this.dataSource.subscribers as unknown as Record<string, unknown>[];
    if (subscribers.some((s) => !(s instanceof TenantColumnSubscriber) && (typeof s.beforeInsert === 'function' || typeof s.afterInsert === 'function'))) {
      return false;
    }
    this.eligible ??=
      isFlatEntity(metadata) &&
      !metadata.versionColumn &&
      !metadata.treeType &&
      metadata.beforeInsertListeners.length === 0 &&
      metadata.afterInsertListeners.length === 0 &&
      metadata.primaryColumns.some((column) => column.isGenerated) &&
      metadata.columns.every(
        (column) =>
          column.isInsert &&
          !column.isVirtual &&
          !column.isVirtualProperty &&
          !column.transformer &&
          !column.embeddedMetadata &&
          !column.isArray &&
          column.asExpression === undefined &&
          PLAIN_TYPES.has(column.type) &&
          (!column.isGenerated || column.generationStrategy === 'uuid'),
      );
    return this.eligible;
  }
}

/** One entity: an instance of the repository's class or a plain object (TypeORM saves both alike). */
function isEntityObject(value: unknown, metadata: EntityMetadata): value is ObjectLiteral {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || (typeof metadata.target === 'function' && prototype === metadata.target.prototype);
}

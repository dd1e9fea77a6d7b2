import { SessionGuard } from '../connection/session-guard';
import type { DataSource, EntityMetadata, ObjectLiteral } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata';
import { isFlatEntity } from './flat-entity';
import { tenantColumnOf } from '../tenancy/tenant-column';
import type { ScopedTransaction } from '../transaction/scoped-transaction';

/** A compiled call shape: the SQL, and the columns whose values it binds, in order. */
interface CompiledFind {
  sql: string;
  columns: ColumnMetadata[];
  /** The tenant column, bound last in a tenant transaction (the routing predicate). */
  routed: boolean;
}

/** Enough distinct shapes for any real repository; beyond it, calls take TypeORM's path uncached. */
const MAX_SHAPES = 64;

/**
 * `findOneBy` / `findBy` with plain equality on columns, as SQL built once per call shape (which
 * properties, one row or many) instead of by TypeORM's query builder on every call: the builder is
 * the largest share of a primary-key read's CPU in Node (see docs/performance.md).
 *
 * The SQL is what TypeORM's builder produces for the same call, routing predicate included: the
 * entity's columns, `WHERE <column> = $n AND …`, `tenant_id = $n` in a tenant transaction, `LIMIT 1`
 * for one row. Rows are hydrated the way TypeORM's transformer does it (metadata.create, then each
 * column through the driver's prepareHydratedValue). Anything the fast path does not reproduce
 * exactly is left to TypeORM: an entity with relations, embeddeds, inheritance, soft delete, column
 * transformers or afterLoad listeners or subscribers; a where that is an array, or holds anything
 * but a string, number or boolean per column (null, undefined, operators, nested objects).
 */
export class CompiledFinds {
  private readonly shapes = new Map<string, CompiledFind>();
  private eligible?: boolean;

  constructor(private readonly dataSource: DataSource) {}

  /** Runs the find if the call has a compiled shape; undefined means "use TypeORM's own path". */
  run<T extends ObjectLiteral>(
    metadata: EntityMetadata,
    transaction: ScopedTransaction,
    where: unknown,
    one: boolean,
  ): Promise<T[]> | undefined {
    if (!this.isEligible(metadata) || !isPlainObject(where)) return undefined;
    const tenantId = transaction.scope.kind === 'tenant' ? transaction.scope.tenantId : undefined;
    const compiled = this.compile(metadata, where, one, tenantId !== undefined);
    if (!compiled) return undefined;
    const values: unknown[] = compiled.columns.map((column) => where[column.propertyName]);
    if (compiled.routed) values.push(tenantId);
    return this.query<T>(metadata, transaction, compiled, values);
  }

  private async query<T>(metadata: EntityMetadata, transaction: ScopedTransaction, compiled: CompiledFind, values: unknown[]): Promise<T[]> {
    const queryRunner = transaction.manager.queryRunner!;
    const rows = (await queryRunner.query(compiled.sql, values)) as Record<string, unknown>[];
    const driver = this.dataSource.driver;
    return rows.map((row) => {
      const entity = metadata.create(queryRunner, { fromDeserializer: true }) as T;
      for (const column of metadata.columns) {
        const value = row[column.databaseName];
        if (value !== undefined) column.setEntityValue(entity as ObjectLiteral, driver.prepareHydratedValue(value, column));
      }
      return entity;
    });
  }

  /** `inTenant`: the routing predicate applies (a tenant transaction; the system path has none). */
  private compile(metadata: EntityMetadata, where: Record<string, unknown>, one: boolean, inTenant: boolean): CompiledFind | undefined {
    const keys = Object.keys(where);
    if (keys.length === 0) return undefined;
    for (const key of keys) {
      const value = where[key];
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') return undefined;
    }
    // The tenant decides only the bound value, not the text: one shape serves every tenant.
    const shape = `${one ? '1' : 'n'}${inTenant ? 't' : 's'}:${keys.join(',')}`;
    const cached = this.shapes.get(shape);
    if (cached) return cached;
    const columns: ColumnMetadata[] = [];
    for (const key of keys) {
      const column = metadata.columns.find((c) => c.propertyName === key && c.propertyPath === key);
      if (!column || column.relationMetadata || column.transformer || column.isArray || column.isVirtual || column.isVirtualProperty) return undefined;
      columns.push(column);
    }
    const driver = this.dataSource.driver;
    const tenantColumn = inTenant ? tenantColumnOf(metadata) : undefined;
    const conditions = columns.map((column, i) => `${driver.escape(column.databaseName)} = $${i + 1}`);
    if (tenantColumn) conditions.push(`${driver.escape(tenantColumn.databaseName)} = $${columns.length + 1}`);
    const table = metadata.tablePath.split('.').map((part) => driver.escape(part)).join('.');
    const select = metadata.columns.map((column) => driver.escape(column.databaseName)).join(', ');
    const compiled = {
      sql: `SELECT ${select} FROM ${table} WHERE ${conditions.join(' AND ')}${one ? ' LIMIT 1' : ''}`,
      columns,
      routed: tenantColumn !== undefined,
    };
    if (this.shapes.size < MAX_SHAPES) this.shapes.set(shape, compiled);
    SessionGuard.registerModuleStatement(compiled.sql);
    return compiled;
  }

  /** Whether the entity is simple enough that the compiled SQL and hydration equal TypeORM's. */
  private isEligible(metadata: EntityMetadata): boolean {
    // Subscribers can be added after start: checked on every call (a short array).
    if (this.dataSource.subscribers.some((subscriber) => typeof subscriber.afterLoad === 'function')) return false;
    this.eligible ??=
      isFlatEntity(metadata) &&
      metadata.afterLoadListeners.length === 0 &&
      metadata.columns.every((column) => column.isSelect && !column.isVirtual && !column.isVirtualProperty && !column.transformer && !column.embeddedMetadata);
    return this.eligible;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

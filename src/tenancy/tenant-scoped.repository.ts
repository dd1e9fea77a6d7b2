import { DataSource, type EntityManager, type EntityMetadata, type EntityTarget, type ObjectLiteral, Repository } from 'typeorm';
import type { TenantContext } from './tenant-context';

/**
 * The repository `@InjectRepository(Entity)` gives. A singleton whose `manager` is looked up on every
 * call: the current context's transaction manager, so each query runs on the request's connection
 * inside its tenant transaction. Outside a context it throws instead of running unscoped.
 */
export class TenantScopedRepository<T extends ObjectLiteral> extends Repository<T> {
  constructor(
    target: EntityTarget<T>,
    private readonly dataSource: DataSource,
    private readonly context: TenantContext,
  ) {
    super(target, dataSource.manager);
    // Repository declares `manager` as a plain field; replacing it with an accessor on the instance
    // routes every inherited method (find, save, createQueryBuilder, …) through the context.
    Object.defineProperty(this, 'manager', { get: (): EntityManager => this.currentManager() });
  }

  override get metadata(): EntityMetadata {
    return this.dataSource.getMetadata(this.target);
  }

  private currentManager(): EntityManager {
    return this.context.require(`The ${this.metadata.name} repository`).manager;
  }
}

import { DataSource, type EntityManager, type EntityMetadata, type EntityTarget, type FindOptionsWhere, type ObjectLiteral, Repository } from 'typeorm';
import { CompiledFinds } from './compiled-finds';
import { CompiledInserts } from './compiled-inserts';
import { savedOrRefused } from './stored-writes';
import type { ScopedTransaction } from '../transaction/scoped-transaction';
import type { TenantContext } from '../tenant-context/tenant-context';

/**
 * The repository `@InjectRepository(Entity)` gives. A singleton whose `manager` is looked up on every
 * call: the current context's transaction manager, so each query runs on the request's connection
 * inside its tenant transaction. Outside a context it throws instead of running unscoped.
 */
export class TenantScopedRepository<T extends ObjectLiteral> extends Repository<T> {
  private readonly finds: CompiledFinds;
  private readonly inserts: CompiledInserts;

  constructor(
    target: EntityTarget<T>,
    private readonly dataSource: DataSource,
    private readonly context: TenantContext,
  ) {
    super(target, dataSource.manager);
    // Repository declares `manager` as a plain field; replacing it with an accessor on the instance
    // routes every inherited method (find, save, createQueryBuilder, …) through the context.
    Object.defineProperty(this, 'manager', { get: (): EntityManager => this.currentManager() });
    this.finds = new CompiledFinds(dataSource);
    this.inserts = new CompiledInserts(dataSource);
  }

  // One body for TypeORM's overloads: the compiled insert takes one new entity without options.
  override save: Repository<T>['save'] = async (entityOrEntities: unknown, options?: unknown): Promise<never> => {
    const transaction = this.transaction();
    const compiled = this.inserts.run<T>(this.metadata, transaction, entityOrEntities, options);
    if (compiled) return (await compiled) as never;
    const save = () => (Repository.prototype.save as (...args: unknown[]) => Promise<unknown>).call(this, entityOrEntities, options);
    return (await savedOrRefused(transaction.manager.queryRunner!, this.metadata, save)) as never;
  };

  override async findOneBy(where: FindOptionsWhere<T> | FindOptionsWhere<T>[]): Promise<T | null> {
    const compiled = this.finds.run<T>(this.metadata, this.transaction(), where, true);
    return compiled ? ((await compiled)[0] ?? null) : super.findOneBy(where);
  }

  // async like TypeORM's own: outside a context the call rejects, it does not throw.
  override async findBy(where: FindOptionsWhere<T> | FindOptionsWhere<T>[]): Promise<T[]> {
    return this.finds.run<T>(this.metadata, this.transaction(), where, false) ?? super.findBy(where);
  }

  override get metadata(): EntityMetadata {
    return this.dataSource.getMetadata(this.target);
  }

  private currentManager(): EntityManager {
    return this.transaction().manager;
  }

  private transaction(): ScopedTransaction {
    return this.context.require(`The ${this.metadata.name} repository`);
  }
}

import { Injectable } from '@nestjs/common';
import { ClsServiceManager } from 'nestjs-cls';
import type { ScopedTransaction } from '../transaction/scoped-transaction';
import { TenantContextMissingError } from '../tenancy/tenancy.errors';

const TRANSACTION = Symbol('fdl-runtime-db:scoped-transaction');

/** The open scoped transaction of the calling async context, if any (for code outside Nest's injector). */
export function currentTransaction(): ScopedTransaction | undefined {
  const cls = ClsServiceManager.getClsService();
  return cls.isActive() ? cls.get(TRANSACTION) : undefined;
}

/**
 * Where the current request's (or job's) transaction lives: nestjs-cls's AsyncLocalStorage, so that
 * singleton repositories find it without request-scoped providers. It shares the store a host app
 * using nestjs-cls already has, and opens a nested context that inherits the host's values.
 */
@Injectable()
export class TenantContext {
  private readonly cls = ClsServiceManager.getClsService();

  /** The open scoped transaction, or undefined outside any tenant or system context. */
  current(): ScopedTransaction | undefined {
    return currentTransaction();
  }

  /** The open scoped transaction; throws {@link TenantContextMissingError} naming `user` outside one. */
  require(user: string): ScopedTransaction {
    const transaction = this.current();
    if (!transaction) throw new TenantContextMissingError(user);
    return transaction;
  }

  run<T>(transaction: ScopedTransaction, work: () => Promise<T>): Promise<T> {
    return this.cls.run({ ifNested: 'inherit' }, () => {
      this.cls.set(TRANSACTION, transaction);
      return work();
    });
  }
}

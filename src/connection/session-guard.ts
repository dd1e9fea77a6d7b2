import type { Provider } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { ClusterTopology } from '../cluster/cluster-topology';
import type { DatabaseConfig } from '../config/database-config';
import { RESOLVED_DATABASE_CONFIG } from '../config/database.internal-constants';
import { SystemDataSource } from './system-data-source';

interface WatchedPool {
  on(event: 'acquire', listener: (client: object) => void): unknown;
}

/** SQL texts the module writes itself (compiled finds and inserts): they cannot leave session state. */
const moduleStatements = new Set<string>(['COMMIT', 'ROLLBACK']);

/**
 * Decides whether a transaction's prelude carries the session guard (prelude.ts), which costs an
 * unnamed statement and a function call on every transaction it is in (about a fifth of a
 * one-query read's throughput). Session state can only come from SQL the module did not write, so
 * the guard is needed on a connection whose last use was not vouched for:
 *
 * - A connection is vouched for when a transaction of the module ended on it having sent nothing but
 *   the module's own statements (the prelude, compiled finds and inserts, COMMIT, ROLLBACK) after
 *   its guard passed or on a connection vouched for already. A new connection is vouched for.
 * - Any other use of it breaks that: a statement of TypeORM's or the application's, or a checkout
 *   by anything else (counted on the pool's `acquire` event).
 *
 * Behind a pooler (PgBouncer: the server session is not the client connection's) and on the
 * embedded database (one session behind every connection), nothing can be vouched for: the guard
 * runs in every transaction.
 */
export class SessionGuard {
  private readonly checkouts = new WeakMap<object, number>();
  private readonly vouchedAt = new WeakMap<object, number>();

  constructor(
    /** Guard every transaction (a pooler in between, or one shared session). */
    readonly always: boolean,
  ) {}

  /** Marks `text` as SQL the module writes itself, from its own metadata, with every value bound. */
  static registerModuleStatement(text: string): void {
    moduleStatements.add(text);
  }

  static isModuleStatement(text: unknown): boolean {
    return typeof text === 'string' && moduleStatements.has(text);
  }

  /** Counts the checkouts of `pool`'s connections. */
  watch(pool: WatchedPool | undefined): void {
    pool?.on('acquire', (client) => this.checkouts.set(client, (this.checkouts.get(client) ?? 0) + 1));
  }

  /** Whether a transaction that has just checked `client` out must send the guard. */
  needed(client: object): boolean {
    if (this.always) return true;
    const checkouts = this.checkouts.get(client);
    // This checkout is the only one since the connection was last vouched for (or was opened).
    return checkouts === undefined || checkouts !== (this.vouchedAt.get(client) ?? 0) + 1;
  }

  /** The transaction on `client` ended as described above: its next checkout may skip the guard. */
  vouch(client: object): void {
    const checkouts = this.checkouts.get(client);
    if (checkouts !== undefined) this.vouchedAt.set(client, checkouts);
  }

  /** `client` ran SQL the module did not write: its next transaction sends the guard. */
  withdraw(client: object): void {
    this.vouchedAt.set(client, Number.NaN);
  }

  static readonly provider: Provider = {
    provide: SessionGuard,
    inject: [getDataSourceToken(), SystemDataSource, ClusterTopology, RESOLVED_DATABASE_CONFIG],
    useFactory: (dataSource: DataSource, system: SystemDataSource, topology: ClusterTopology, config: DatabaseConfig) => {
      const guard = new SessionGuard(config.backend === 'embedded' || topology.behindPooler);
      for (const source of new Set([dataSource, system.dataSource])) guard.watch((source.driver as unknown as { master?: WatchedPool }).master);
      return guard;
    },
  };
}

import type { PoolClient, QueryResult } from 'pg';
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import type { DatabaseTelemetry } from '../observability/database-telemetry';
import { uninstrumentedQuery } from '../observability/pg-instrumentation';
import { reportPipeline } from '../observability/pipeline-tracing';
import type { DatabaseScope, TransactionTimeouts } from './database-scope';
import { toUnavailableError } from './database-unavailable';
import { type PipelineError, type PipelinedStatement, queryPipelined } from './pipelined-query';
import { type PreludeForm, preludeStatements } from './prelude';
import { PreparedStatements } from './prepared-statements';
import { routeToTenant } from './routing-predicate';
import { DatabaseUnavailableError, TenantNotFoundError, TransactionRolledBackError } from './tenancy.errors';

/** The private TypeORM members this class drives; named here so the coupling is in one place. */
interface PostgresQueryRunnerInternals {
  isTransactionActive: boolean;
  transactionDepth: number;
  releasePostgresConnection(error?: Error): Promise<void>;
}

type QueryFunction = (...args: unknown[]) => unknown;

/** SQLSTATE raised by fdl_require_active_tenant(). */
const TENANT_NOT_ACTIVE = 'FDL03';

/**
 * One tenant's (or the system's) transaction, begun lazily.
 *
 * Nothing is taken from the pool until the first query. That query travels in the same round trip
 * as the prelude (prelude.ts): BEGIN, the role switch, the tenant and the timeouts (SET LOCAL), and
 * the tenant check, which raises for an unknown or suspended tenant so that the
 * server skips the query behind it. A request that never queries never holds a connection.
 * `end()` commits or rolls back and always leaves the connection with no transaction open and no
 * setting left before it goes back to the pool.
 */
export class ScopedTransaction {
  readonly manager: EntityManager;
  private readonly queryRunner: QueryRunner;
  private borrowed?: Promise<PoolClient>;
  private client?: PoolClient;
  /** Settles when the prelude has been answered: undefined on success, the error otherwise. */
  private prelude?: Promise<Error | undefined>;
  private ended = false;
  private connectionLost?: DatabaseUnavailableError;
  private readonly onConnectionError = (error: Error) => {
    this.connectionLost = new DatabaseUnavailableError('the connection to the server was lost', error);
  };

  constructor(
    dataSource: DataSource,
    readonly scope: DatabaseScope,
    private readonly timeouts: TransactionTimeouts,
    /** Who acts, for the audit trail: a user id, a service name. */
    readonly actor?: string,
    private readonly telemetry?: DatabaseTelemetry,
    /** Single node or Citus: decided once, at start (ClusterTopology). */
    private readonly preludeForm: PreludeForm = 'single-node',
    private readonly prepared = new PreparedStatements(false),
  ) {
    this.queryRunner = dataSource.createQueryRunner('master');
    const connect = this.queryRunner.connect.bind(this.queryRunner);
    this.queryRunner.connect = () => (this.borrowed ??= this.borrow(connect));
    // TypeORM must see a transaction from the start: otherwise save() would open its own and COMMIT
    // ours half-way, silently dropping the role switch for the rest of the request. Depth 1 also
    // turns a nested manager.transaction() into a SAVEPOINT.
    Object.assign(this.internals, { isTransactionActive: true, transactionDepth: 1 });
    this.manager = this.queryRunner.manager;
    if (scope.kind === 'tenant') routeToTenant(this.manager, scope.tenantId);
  }

  /** Commits (`commit: true`) or rolls back, then returns the connection to the pool. Idempotent. */
  async end(commit: boolean): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    try {
      if (this.borrowed) await this.finish(commit);
    } finally {
      this.client?.removeListener('error', this.onConnectionError);
      this.internals.isTransactionActive = false;
      await this.queryRunner.release();
    }
  }

  /**
   * What made this transaction unusable, if anything: the prelude's refusal (unknown or suspended
   * tenant, database unavailable) or the loss of its connection. It explains every later failure of
   * the transaction better than the statements' own errors do.
   */
  async failureCause(): Promise<Error | undefined> {
    return (await this.prelude) ?? this.connectionLost;
  }

  private get internals(): PostgresQueryRunnerInternals {
    return this.queryRunner as unknown as PostgresQueryRunnerInternals;
  }

  private async borrow(connect: () => Promise<PoolClient>): Promise<PoolClient> {
    try {
      this.client = await connect();
    } catch (error) {
      throw toUnavailableError(error) ?? error;
    }
    // The server may end the session under us (restart, idle_in_transaction_session_timeout); TypeORM
    // then releases the runner and later statements fail with a confusing "already released".
    this.client.once('error', this.onConnectionError);
    this.interceptFirstQuery(this.client);
    return this.client;
  }

  /**
   * The first query on the borrowed connection carries the prelude. An own-property override on
   * the client, removed as soon as it has been used: later queries go straight to node-postgres.
   */
  private interceptFirstQuery(client: PoolClient): void {
    const original = client.query as unknown as QueryFunction;
    const patched = client as unknown as { query?: QueryFunction };
    patched.query = (...args: unknown[]) => {
      const [text, values, callback] = args;
      let result: unknown;
      // One round trip for prelude + query needs the extended protocol for the query too, which
      // refuses several statements in one string: only single statements are merged.
      if (typeof text === 'string' && !text.includes(';') && (values === undefined || Array.isArray(values)) && callback === undefined) {
        result = this.sendPrelude(client, { text, values: (values as unknown[] | undefined) ?? [] });
      } else {
        // Anything else (a stream, a config object, a callback) follows the prelude: two round trips.
        void this.sendPrelude(client).catch(() => undefined);
        result = this.afterPrelude(original, client, args);
      }
      // Until the prelude is answered, and sent again where a pooler lost its prepared statements
      // (sendPipeline), later queries wait for it: none may run in between on the connection.
      const waiting = (...later: unknown[]) => this.afterPrelude(original, client, later);
      patched.query = waiting;
      void this.prelude!.then(() => {
        if (patched.query === waiting) delete patched.query;
      });
      return result;
    };
  }

  /**
   * `original(...args)` once the prelude has settled. Promise-style calls only: a stream or a
   * callback call is handed to node-postgres at once (it answers synchronously), queued behind the
   * prelude as before.
   */
  private afterPrelude(original: QueryFunction, client: PoolClient, args: unknown[]): unknown {
    const promiseStyle = !args.some((arg) => typeof arg === 'function') && typeof (args[0] as { submit?: unknown } | null)?.submit !== 'function';
    return promiseStyle ? this.prelude!.then(() => original.apply(client, args)) : original.apply(client, args);
  }

  /** Sends the prelude, followed by `first` when given; resolves to `first`'s result. */
  private sendPrelude(client: PoolClient, first?: PipelinedStatement): Promise<QueryResult> {
    const statements = preludeStatements(this.preludeForm, this.scope, this.timeouts);
    const report = reportPipeline(client, statements, first, this.scope, this.telemetry);
    const sent = this.sendPipeline(client, first ? [...statements, first] : statements, report?.statementCompleted);
    this.prelude = sent.then(
      () => (report?.settled(), undefined),
      (error: PipelineError) => {
        const refusal = first && error.statementIndex === statements.length ? undefined : toPreludeError(error);
        if (refusal instanceof TenantNotFoundError) this.telemetry?.preludeRefused(refusal.reason);
        report?.settled(error, refusal);
        return refusal;
      },
    );
    return sent.then(
      (results) => results[results.length - 1],
      async (error: PipelineError) => {
        throw (await this.prelude) ?? error;
      },
    );
  }

  /**
   * The pipeline with its statements prepared where they may be (prepared-statements.ts). If the
   * server connection has lost a statement (a pooler sharing it), nothing of the pipeline ran past
   * that Bind: roll back and send it once more, unnamed.
   */
  private async sendPipeline(client: PoolClient, statements: PipelinedStatement[], completed?: (index: number) => void): Promise<QueryResult[]> {
    const named = this.prepared.named(statements);
    try {
      return await queryPipelined(client, named, completed);
    } catch (error) {
      if (named === statements || !this.prepared.lostStatement(error)) throw error;
      await uninstrumentedQuery(client).call(client, 'ROLLBACK');
      return queryPipelined(client, statements, completed);
    }
  }

  private async finish(commit: boolean): Promise<void> {
    const client = await this.borrowed!.catch(() => undefined);
    if (!client) {
      // The pool gave no connection: nothing to end, but work that wanted to commit did not.
      if (commit) await this.borrowed;
      return;
    }
    const preludeError = await this.prelude;
    if (preludeError || !commit || !this.prelude) {
      await this.rollbackOrDestroy(client);
      // Even if the caller swallowed it, work that wanted to commit must not look successful.
      if (preludeError && commit) throw preludeError;
      return;
    }
    let result;
    try {
      result = await client.query('COMMIT');
    } catch (error) {
      await this.rollbackOrDestroy(client);
      throw toUnavailableError(error) ?? error;
    }
    // PostgreSQL answers COMMIT of a transaction in which a statement failed with ROLLBACK and no
    // error: if the caller caught that statement's error, its other writes are gone all the same.
    if (result.command === 'ROLLBACK') throw new TransactionRolledBackError();
  }

  // The raw client, not the query runner: the ROLLBACK must reach the server whatever state the
  // runner is in. A connection that cannot even roll back is destroyed rather than returned to the
  // pool with a transaction possibly open.
  private async rollbackOrDestroy(client: PoolClient): Promise<void> {
    delete (client as unknown as { query?: QueryFunction }).query;
    try {
      await client.query('ROLLBACK');
    } catch (error) {
      await this.internals.releasePostgresConnection(error as Error);
    }
  }
}

function toPreludeError(error: PipelineError): Error {
  if ((error as { code?: string }).code === TENANT_NOT_ACTIVE) {
    const detail = (error as { detail?: string }).detail;
    return new TenantNotFoundError(detail === 'unknown' ? 'unknown' : 'suspended');
  }
  return toUnavailableError(error) ?? error;
}

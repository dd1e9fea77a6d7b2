import { type Admission, SYSTEM_KEY, type TenantScheduler } from '../fairness/tenant-scheduler';
import type { PoolClient, QueryResult } from 'pg';
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import type { DatabaseTelemetry } from '../observability/database-telemetry';
import { uninstrumentedQuery } from '../observability/pg-instrumentation';
import { reportPipeline } from './pipeline-tracing';
import type { DatabaseScope, TransactionTimeouts } from '../tenancy/database-scope';
import { toUnavailableError } from '../cluster/database-unavailable';
import { transientFailureReason } from '../cluster/transient-failure';
import { setTimeout as sleep } from 'node:timers/promises';
import { type PipelineError, type PipelinedStatement, queryPipelined } from '../connection/pipelined-query';
import type { PreludeForm } from '../cluster/cluster-topology';
import { preludeStatements } from './prelude';
import { PreparedStatements } from '../connection/prepared-statements';
import { SessionGuard } from '../connection/session-guard';
import { routeToTenant } from './routing-predicate';
import { DatabaseUnavailableError, TenantNotFoundError, TransactionRolledBackError } from '../tenancy/tenancy.errors';

/** The private TypeORM members this class drives; named here so the coupling is in one place. */
interface PostgresQueryRunnerInternals {
  isTransactionActive: boolean;
  transactionDepth: number;
  databaseConnection?: PoolClient;
  databaseConnectionPromise?: Promise<PoolClient>;
  releaseCallback?: (error?: Error) => void;
  releasePostgresConnection(error?: Error): Promise<void>;
}

interface PostgresDriverInternals {
  obtainMasterConnection(): Promise<[PoolClient, (error?: Error) => void]>;
}

type QueryFunction = (...args: unknown[]) => unknown;

/** SQLSTATE raised by fdl_require_active_tenant(). */
const TENANT_NOT_ACTIVE = 'FDL03';
/** SQLSTATE raised by fdl_assert_clean_session(): an earlier transaction left session state. */
const SESSION_STATE_LEFT = 'FDL04';
/** First round trips sent for one transaction at most (the last one unnamed), before its error stands. */
const MAX_PIPELINE_ATTEMPTS = 4;
/**
 * Times a first round trip is sent again because the server asked for the transaction to be run
 * again (cluster/transient-failure.ts), and the pause before each, in milliseconds: long enough for
 * a deadlock's other party to finish or a shard's new placement to be routed to, short beside a request.
 */
const TRANSIENT_RETRY_PAUSES_MS = [10, 40, 160];

/**
 * One tenant's (or the system's) transaction, begun lazily.
 *
 * Nothing is taken from the pool until the first query. That query travels in the same round trip
 * as the prelude (prelude.ts): BEGIN, the role switch, the tenant and the timeouts (SET LOCAL), and
 * the tenant check, which raises for an unknown or suspended tenant so that the
 * server skips the query behind it. A request that never queries never holds a connection.
 * `end()` commits or rolls back and always leaves the connection with no transaction open and no
 * setting left before it goes back to the pool.
 *
 * A connection that an earlier transaction left holding session state (the prelude's guard raises),
 * or that lost a prepared statement twice, is discarded in the middle of the first round trip and
 * the transaction begins again on a fresh one: nothing of it had run, and the work never sees it.
 */
export class ScopedTransaction {
  readonly manager: EntityManager;
  private readonly queryRunner: QueryRunner;
  private readonly driver: PostgresDriverInternals;
  private borrowed?: Promise<PoolClient>;
  /** The connection the transaction runs on: the borrowed one, or the one that replaced it. */
  private client?: PoolClient;
  /** node-postgres's query of the connections (under the instance override made here). */
  private originalQuery?: QueryFunction;
  /** The prelude carries the session guard (session-guard.ts). */
  private guarded = true;
  /** Statements of the prelude in the round trip last sent: the first query's index in it. */
  private sentPreludeLength = 0;
  /** A statement the module did not write was sent: the connection cannot be vouched for afterwards. */
  private foreign = false;
  /** Settles when the prelude has been answered: undefined on success, the error otherwise. */
  private prelude?: Promise<Error | undefined>;
  private ended = false;
  private connectionLost?: DatabaseUnavailableError;
  /** This transaction's turn at the pool (fairness/tenant-scheduler.ts), held until it ends. */
  private admission?: Admission;
  /** Why the scheduler gave it no turn: it never took a connection. */
  private refused?: Error;
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
    /** Whether a connection's prelude must carry the session guard; without it, always. */
    private readonly sessionGuard?: SessionGuard,
    /**
     * Every connection reaches one backend session that outlives it (the embedded database): a
     * tainted session is cleaned with DISCARD ALL, not left behind with its connection.
     */
    private readonly sharedSession = false,
    /** Shares the pool between tenants; without it, first come, first served. */
    private readonly scheduler?: TenantScheduler,
  ) {
    this.driver = dataSource.driver as unknown as PostgresDriverInternals;
    this.queryRunner = dataSource.createQueryRunner('master');
    const connect = this.queryRunner.connect.bind(this.queryRunner);
    this.queryRunner.connect = () => (this.borrowed ??= this.borrow(connect)).then(() => this.client!);
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
    let clean = false;
    try {
      if (this.borrowed) await this.finish(commit);
      clean = !this.foreign && (await this.prelude) === undefined && this.connectionLost === undefined;
    } finally {
      if (this.client) {
        if (clean) this.sessionGuard?.vouch(this.client);
        else this.sessionGuard?.withdraw(this.client);
        delete (this.client as unknown as { query?: QueryFunction }).query;
      }
      this.client?.removeListener('error', this.onConnectionError);
      this.internals.isTransactionActive = false;
      try {
        await this.queryRunner.release();
      } finally {
        // Even when releasing a broken connection throws: a turn not given back is a connection
        // lost to every tenant for the life of the process.
        this.admission?.release();
      }
    }
  }

  /**
   * What made this transaction unusable, if anything: the prelude's refusal (unknown or suspended
   * tenant, database unavailable) or the loss of its connection. It explains every later failure of
   * the transaction better than the statements' own errors do.
   */
  async failureCause(): Promise<Error | undefined> {
    return this.refused ?? (await this.prelude) ?? this.connectionLost;
  }

  private get internals(): PostgresQueryRunnerInternals {
    return this.queryRunner as unknown as PostgresQueryRunnerInternals;
  }

  private async borrow(connect: () => Promise<PoolClient>): Promise<PoolClient> {
    if (this.scheduler) {
      try {
        // Awaited whatever admit() returned: a turn granted at once costs one microtask.
        this.admission = await this.scheduler.admit(this.scope.kind === 'tenant' ? this.scope.tenantId : SYSTEM_KEY);
      } catch (error) {
        throw (this.refused = error as Error);
      }
    }
    try {
      this.client = await connect();
    } catch (error) {
      this.admission?.release();
      this.admission = undefined;
      throw toUnavailableError(error) ?? error;
    }
    // The server may end the session under us (restart, idle_in_transaction_session_timeout); TypeORM
    // then releases the runner and later statements fail with a confusing "already released".
    this.client.once('error', this.onConnectionError);
    this.guarded = this.sessionGuard?.needed(this.client) ?? true;
    this.interceptFirstQuery(this.client);
    return this.client;
  }

  /**
   * The first query on the borrowed connection carries the prelude. An own-property override on the
   * client; once used it gives way to holdUntilPrelude's, which end() removes.
   */
  private interceptFirstQuery(client: PoolClient): void {
    this.originalQuery = client.query as unknown as QueryFunction;
    (client as unknown as { query?: QueryFunction }).query = (...args: unknown[]) => {
      const [text, values, callback] = args;
      this.note(text);
      let result: unknown;
      // One round trip for prelude + query needs the extended protocol for the query too, which
      // refuses several statements in one string: only single statements are merged.
      if (typeof text === 'string' && !text.includes(';') && (values === undefined || Array.isArray(values)) && callback === undefined) {
        result = this.sendPrelude({ text, values: (values as unknown[] | undefined) ?? [] });
      } else {
        // Anything else (a stream, a config object, a callback) follows the prelude: two round trips.
        void this.sendPrelude().catch(() => undefined);
        result = this.afterPrelude(args);
      }
      this.holdUntilPrelude(client);
      return result;
    };
  }

  /**
   * Until the prelude is answered (sent again where a connection lost its prepared statements, or on
   * another connection: sendPipeline), later queries on `client` wait for it: none may run in between.
   */
  private holdUntilPrelude(client: PoolClient): void {
    const patched = client as unknown as { query?: QueryFunction };
    const waiting = (...later: unknown[]) => (this.note(later[0]), this.afterPrelude(later));
    patched.query = waiting;
    // Then every statement passes by note() on its way to node-postgres, until end() removes it.
    void this.prelude!.then(() => {
      if (patched.query === waiting) patched.query = (...later: unknown[]) => (this.note(later[0]), this.originalQuery!.apply(client, later));
    });
  }

  /** Records a statement the module did not write (session-guard.ts). */
  private note(text: unknown): void {
    if (!this.foreign && !SessionGuard.isModuleStatement(text)) this.foreign = true;
  }

  /**
   * The query once the prelude has settled, on the transaction's connection then. Promise-style calls
   * only: a stream or a callback call is handed to node-postgres at once (it answers synchronously),
   * queued behind the prelude as before.
   */
  private afterPrelude(args: unknown[]): unknown {
    const promiseStyle = !args.some((arg) => typeof arg === 'function') && typeof (args[0] as { submit?: unknown } | null)?.submit !== 'function';
    return promiseStyle ? this.prelude!.then(() => this.originalQuery!.apply(this.client, args)) : this.originalQuery!.apply(this.client, args);
  }

  /** Sends the prelude, followed by `first` when given; resolves to `first`'s result. */
  private sendPrelude(first?: PipelinedStatement): Promise<QueryResult> {
    const statements = this.preludeStatements();
    const report = reportPipeline(this.client!, statements, first, this.scope, this.telemetry);
    const sent = this.sendPipeline(statements, first, report?.statementCompleted);
    this.prelude = sent.then(
      () => (report?.settled(), undefined),
      (error: PipelineError) => {
        const refusal = first && error.statementIndex === this.sentPreludeLength ? undefined : toPreludeError(error);
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
   * The pipeline with its statements prepared where they may be (prepared-statements.ts), on the
   * transaction's connection. Nothing of a pipeline runs past the statement that fails, so where the
   * connection is at fault the whole round trip is sent again:
   * - its session guard found state an earlier transaction left: on a fresh connection;
   * - a named statement was missing on the server: parsed again on the same connection, then on a
   *   fresh one (PgBouncer 1.21+ may hold a server connection whose statements it wrongly believes
   *   prepared; leaving in the middle of a transaction makes it close that server connection), and
   *   last unnamed;
   * - the server asked for the transaction to be run again (a deadlock, a serialization failure, a
   *   Citus shard that moved or split meanwhile): on the same connection, a few times, after a pause.
   */
  private async sendPipeline(reported: PipelinedStatement[], first: PipelinedStatement | undefined, completed?: (index: number) => void): Promise<QueryResult[]> {
    let prelude = reported;
    let transientRetries = 0;
    for (let attempt = 1; ; ) {
      const client = this.client!;
      const statements = first ? [...prelude, first] : prelude;
      const sent = attempt < MAX_PIPELINE_ATTEMPTS ? this.prepared.named(statements) : statements;
      this.sentPreludeLength = prelude.length;
      // The report counts statements as first sent; a guarded retry has a longer head, the same tail.
      const offset = prelude.length - reported.length;
      try {
        return await queryPipelined(client, sent, completed && ((index) => index >= offset && completed(index - offset)));
      } catch (error) {
        const transient = transientFailureReason(error);
        if (transient) {
          if (transientRetries === TRANSIENT_RETRY_PAUSES_MS.length) throw error;
          // Nothing of the transaction has reached the work yet: it begins again, whole, on the same
          // connection (the failure was the moment's, not the connection's).
          await uninstrumentedQuery(client).call(client, 'ROLLBACK');
          this.telemetry?.transactionRunAgain(transient);
          await sleep(TRANSIENT_RETRY_PAUSES_MS[transientRetries++]);
          continue;
        }
        if (attempt === MAX_PIPELINE_ATTEMPTS) throw error;
        if ((error as { code?: string }).code === SESSION_STATE_LEFT) {
          this.telemetry?.sessionStateFound((error as { detail?: string }).detail ?? '');
          prelude = await this.replaceConnection(error as Error);
        } else if (PreparedStatements.lostStatement(error, sent)) {
          PreparedStatements.forget(client, sent);
          if (attempt === 1) await uninstrumentedQuery(client).call(client, 'ROLLBACK');
          else prelude = await this.replaceConnection(error as Error);
        } else {
          throw error;
        }
        attempt++;
      }
    }
  }

  /**
   * Gives the connection up in the middle of its failed first round trip and takes a fresh one from
   * the pool for the query runner; resolves to the (guarded) prelude to send on it. Left with its transaction open, a server connection is closed: by
   * PostgreSQL when the client goes, and by PgBouncer, which closes a server connection whose client
   * leaves in a transaction; with it goes whatever session state it held. On the embedded database
   * every connection reaches the same session: it is cleaned instead.
   */
  private async replaceConnection(cause: Error): Promise<PipelinedStatement[]> {
    const old = this.client!;
    this.sessionGuard?.withdraw(old);
    const runner = this.internals;
    old.removeListener('error', this.onConnectionError);
    delete (old as unknown as { query?: QueryFunction }).query;
    if (this.sharedSession) {
      const query = uninstrumentedQuery(old);
      await query.call(old, 'ROLLBACK');
      await query.call(old, 'DISCARD ALL');
      (old as unknown as { connection: { parsedStatements: Record<string, string> } }).connection.parsedStatements = {};
      runner.releaseCallback?.();
    } else {
      runner.releaseCallback?.(cause);
    }
    runner.releaseCallback = undefined;
    runner.databaseConnection = undefined;
    let connection: PoolClient;
    let release: (error?: Error) => void;
    try {
      [connection, release] = await this.driver.obtainMasterConnection();
    } catch (error) {
      throw toUnavailableError(error) ?? error;
    }
    // As TypeORM's own connect() does: a connection lost later releases the runner.
    const onRunnerError = (error: Error) => void runner.releasePostgresConnection(error);
    connection.on('error', onRunnerError);
    runner.databaseConnection = connection;
    runner.databaseConnectionPromise = Promise.resolve(connection);
    runner.releaseCallback = (error?: Error) => {
      connection.removeListener('error', onRunnerError);
      release(error);
    };
    this.client = connection;
    this.guarded = true;
    connection.once('error', this.onConnectionError);
    this.holdUntilPrelude(connection);
    return this.preludeStatements();
  }

  private preludeStatements(): PipelinedStatement[] {
    return preludeStatements(this.preludeForm, this.scope, this.timeouts, this.guarded, this.actor);
  }

  private async finish(commit: boolean): Promise<void> {
    const borrowed = await this.borrowed!.catch(() => undefined);
    if (!borrowed) {
      // The pool gave no connection: nothing to end, but work that wanted to commit did not.
      if (commit) await this.borrowed;
      return;
    }
    const preludeError = await this.prelude;
    const client = this.client!;
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

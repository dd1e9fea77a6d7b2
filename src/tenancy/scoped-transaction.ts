import type { PoolClient } from 'pg';
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { type DatabaseScope, type TransactionTimeouts } from './database-scope';
import { toUnavailableError } from './database-unavailable';
import { queryPipelined, type PipelinedStatement } from './pipelined-query';
import { TenantNotFoundError, TransactionRolledBackError } from './tenancy.errors';

/** The private TypeORM members this class drives; named here so the coupling is in one place. */
interface PostgresQueryRunnerInternals {
  isTransactionActive: boolean;
  transactionDepth: number;
  releasePostgresConnection(error?: Error): Promise<void>;
}

/**
 * One tenant's (or the system's) transaction, begun lazily.
 *
 * Nothing is taken from the pool until the first query: that query's `connect()` borrows a
 * connection and sends the prelude (BEGIN, role switch, tenant, timeouts, tenant check) in one
 * round trip, then the query itself runs. A request that never touches the database never holds a
 * connection. `end()` commits or rolls back and always leaves the connection with no transaction
 * open and no setting left before it goes back to the pool.
 */
export class ScopedTransaction {
  readonly manager: EntityManager;
  private readonly queryRunner: QueryRunner;
  private begun?: Promise<PoolClient>;
  private client?: PoolClient;
  private ended = false;

  constructor(
    dataSource: DataSource,
    readonly scope: DatabaseScope,
    private readonly timeouts: TransactionTimeouts,
    /** Who acts, for the audit trail: a user id, a service name. */
    readonly actor?: string,
  ) {
    this.queryRunner = dataSource.createQueryRunner('master');
    const connect = this.queryRunner.connect.bind(this.queryRunner);
    this.queryRunner.connect = () => (this.begun ??= this.borrowAndBegin(connect));
    // TypeORM must see a transaction from the start: otherwise save() would open its own and COMMIT
    // ours half-way, silently dropping the role switch for the rest of the request. Depth 1 also
    // turns a nested manager.transaction() into a SAVEPOINT.
    Object.assign(this.internals, { isTransactionActive: true, transactionDepth: 1 });
    this.manager = this.queryRunner.manager;
  }

  /** Whether a connection was borrowed (the prelude has been sent). */
  get isConnected(): boolean {
    return this.client !== undefined;
  }

  /** Commits (`commit: true`) or rolls back, then returns the connection to the pool. Idempotent. */
  async end(commit: boolean): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    try {
      if (this.begun) await this.finish(commit);
    } finally {
      this.internals.isTransactionActive = false;
      await this.queryRunner.release();
    }
  }

  private get internals(): PostgresQueryRunnerInternals {
    return this.queryRunner as unknown as PostgresQueryRunnerInternals;
  }

  private async finish(commit: boolean): Promise<void> {
    const beginError = await this.begun!.then(
      () => undefined,
      (error: unknown) => error ?? new Error('the transaction could not begin'),
    );
    if (beginError !== undefined) {
      await this.rollbackOrDestroy();
      // Even if the caller swallowed it, work that wanted to commit must not look successful.
      if (commit) throw beginError;
      return;
    }
    if (!commit) return this.rollbackOrDestroy();
    let result;
    try {
      result = await this.client!.query('COMMIT');
    } catch (error) {
      await this.rollbackOrDestroy();
      throw toUnavailableError(error) ?? error;
    }
    // PostgreSQL answers COMMIT of a transaction in which a statement failed with ROLLBACK and no
    // error: if the caller caught that statement's error, its other writes are gone all the same.
    if (result.command === 'ROLLBACK') throw new TransactionRolledBackError();
  }

  // The raw client, not the query runner: after a failed prelude the runner's connect() keeps
  // rejecting, and the ROLLBACK must still reach the server. A connection that cannot even roll
  // back is destroyed rather than returned to the pool with a transaction possibly open.
  private async rollbackOrDestroy(): Promise<void> {
    if (!this.client) return;
    try {
      await this.client.query('ROLLBACK');
    } catch (error) {
      await this.internals.releasePostgresConnection(error as Error);
    }
  }

  private async borrowAndBegin(connect: () => Promise<PoolClient>): Promise<PoolClient> {
    try {
      this.client = await connect();
    } catch (error) {
      throw toUnavailableError(error) ?? error;
    }
    let results;
    try {
      results = await queryPipelined(this.client, this.prelude());
    } catch (error) {
      throw toUnavailableError(error) ?? error;
    }
    if (this.scope.kind === 'tenant') {
      const status = results[2].rows[0]?.status as string | undefined;
      if (status !== 'active') throw new TenantNotFoundError(status === undefined ? 'unknown' : 'suspended');
    }
    return this.client;
  }

  private prelude(): PipelinedStatement[] {
    const statementMs = String(Math.round(this.timeouts.statementMs));
    const idleMs = String(Math.round(this.timeouts.idleInTransactionMs));
    // set_config('role', …, true) is SET LOCAL ROLE in a form that shares one statement with the
    // other settings. LOCAL everywhere: it ends with the transaction, so nothing survives on the
    // pooled connection, and it works through PgBouncer in transaction mode.
    if (this.scope.kind === 'system') {
      return [
        { text: 'BEGIN' },
        {
          text:
            `SELECT set_config('role', 'fdl_system', true), ` +
            `set_config('statement_timeout', $1, true), ` +
            `set_config('idle_in_transaction_session_timeout', $2, true)`,
          values: [statementMs, idleMs],
        },
      ];
    }
    return [
      { text: 'BEGIN' },
      {
        text:
          `SELECT set_config('role', 'fdl_app', true), ` +
          `set_config('app.current_tenant_id', $1, true), ` +
          `set_config('statement_timeout', $2, true), ` +
          `set_config('idle_in_transaction_session_timeout', $3, true)`,
        values: [this.scope.tenantId, statementMs, idleMs],
      },
      // Already as fdl_app under RLS: the tenant can only ever see its own row here.
      { text: `SELECT status FROM tenants WHERE id = $1`, values: [this.scope.tenantId] },
    ];
  }
}

import { createHash } from 'node:crypto';
import { Logger, type Provider } from '@nestjs/common';
import { readBooleanOption } from '../config/database-config';
import type { DatabaseModuleOptions } from '../database-module-options';
import { DATABASE_MODULE_OPTIONS } from '../database.internal-constants';
import type { PipelinedStatement } from './pipelined-query';

/** Distinct statement texts given a name, per process; later texts are sent unnamed. */
const MAX_NAMED_TEXTS = 500;

/** SQLSTATE 26000: a Bind named a statement this server connection does not have. */
const UNKNOWN_STATEMENT = '26000';
const OUR_STATEMENT = /prepared statement "fdl_[0-9a-f]{32}" does not exist/;

/**
 * Server-side prepared statements for each transaction's first round trip: the tenant prelude and
 * the query that travels with it. A named statement is parsed and planned once per connection,
 * then only bound and executed: that parse and plan was the largest share of the server's work in
 * a tenant read (README "Performance").
 *
 * Names are given per distinct text (never per value: values are always bound), at most
 * MAX_NAMED_TEXTS of them, so a connection holds a bounded number of statements. Statements whose
 * text holds a value (the tenant in Citus's `SET LOCAL`) are never named.
 *
 * Connection poolers that share server connections between transactions (PgBouncer in transaction
 * mode before 1.21, or without `max_prepared_statements`) lose them between transactions: the first
 * Bind that misses its statement (SQLSTATE 26000) turns them off for the process, logged, and that
 * transaction's first round trip is sent again unnamed (nothing of it ran). `preparedStatements:
 * false` turns them off from the start.
 */
export class PreparedStatements {
  private readonly names = new Map<string, string>();

  constructor(private on: boolean) {}

  get enabled(): boolean {
    return this.on;
  }

  /** `statements` with a name on each that may be prepared; unchanged when turned off. */
  named(statements: readonly PipelinedStatement[]): PipelinedStatement[] {
    if (!this.on) return statements as PipelinedStatement[];
    const named: PipelinedStatement[] = [];
    for (const statement of statements) {
      const name = statement.varies ? undefined : this.nameOf(statement.text);
      // Built field by field: an object spread here cost more than the rest of the prelude's Node work.
      named.push(name === undefined ? statement : { text: statement.text, values: statement.values, name, discardRows: statement.discardRows });
    }
    return named;
  }

  /**
   * Whether `error`, raised by a pipeline sent with named statements, means the server connection
   * did not have one of them; if so they are turned off (logged once). Pipelines sent before that
   * may still meet the same error: each is answered true, and sent again unnamed.
   */
  lostStatement(error: unknown): boolean {
    const { code, message } = (error ?? {}) as { code?: string; message?: string };
    // Only ours: the application's own SQL may raise 26000 too (EXECUTE of a statement it never prepared).
    if (code !== UNKNOWN_STATEMENT || !OUR_STATEMENT.test(message ?? '')) return false;
    if (this.on) {
      this.on = false;
      new Logger('DatabaseModule').warn(
        'Prepared statements turned off: a server connection did not have one this connection had prepared, as happens behind ' +
          'a pooler that shares server connections between transactions (PgBouncer in transaction mode before 1.21). ' +
          'Set preparedStatements: false to start without them.',
      );
    }
    return true;
  }

  private nameOf(text: string): string | undefined {
    let name = this.names.get(text);
    if (name === undefined && this.names.size < MAX_NAMED_TEXTS) this.names.set(text, (name = statementName(text)));
    return name;
  }

  static readonly provider: Provider = {
    provide: PreparedStatements,
    inject: [DATABASE_MODULE_OPTIONS],
    useFactory: (options: DatabaseModuleOptions) => new PreparedStatements(readBooleanOption(options.preparedStatements, 'preparedStatements', true)),
  };
}

/**
 * The name of `text`'s statement, from its content: every process, and every module in one, gives
 * one text the same name, so behind a pooler that shares server connections a name found prepared
 * there can only be this text, never another process's statement bound to our values.
 */
function statementName(text: string): string {
  return `fdl_${createHash('sha256').update(text).digest('hex').slice(0, 32)}`;
}

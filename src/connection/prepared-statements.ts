import { createHash } from 'node:crypto';
import type { Provider } from '@nestjs/common';
import { readBooleanOption } from '../config/database-config';
import type { DatabaseModuleOptions } from '../config/database-module-options';
import { DATABASE_MODULE_OPTIONS } from '../config/database.internal-constants';
import type { PipelineError, PipelinedStatement } from './pipelined-query';

/** Distinct statement texts given a name, per process; later texts are sent unnamed. */
const MAX_NAMED_TEXTS = 500;

/** SQLSTATE 26000: a Bind named a statement this server connection does not have. */
const UNKNOWN_STATEMENT = '26000';

/**
 * Server-side prepared statements for each transaction's first round trip: the tenant prelude and
 * the query that travels with it. A named statement is parsed and planned once per connection,
 * then only bound and executed: that parse and plan was the largest share of the server's work in
 * a tenant read (docs/performance.md).
 *
 * Names are given per distinct text (never per value: values are always bound), at most
 * MAX_NAMED_TEXTS of them, so a connection holds a bounded number of statements. Statements marked
 * `unnamed` (a text holding a value; the prelude's statements before its session guard) never are.
 *
 * A server connection may lack a statement node-postgres believes it parsed: behind a pooler that
 * shares server connections (PgBouncer in transaction mode before 1.21), or after SQL in an earlier
 * transaction ran DEALLOCATE. {@link lostStatement} recognises that; the transaction then parses them
 * again (scoped-transaction.ts). `preparedStatements: false` turns them off from the start.
 */
export class PreparedStatements {
  private readonly names = new Map<string, string>();

  constructor(readonly enabled: boolean) {}

  /** `statements` with a name on each that may be prepared; unchanged when turned off. */
  named(statements: readonly PipelinedStatement[]): PipelinedStatement[] {
    if (!this.enabled) return statements as PipelinedStatement[];
    const named: PipelinedStatement[] = [];
    for (const statement of statements) {
      const name = statement.unnamed ? undefined : this.nameOf(statement.text);
      // Built field by field: an object spread here cost more than the rest of the prelude's Node work.
      named.push(name === undefined ? statement : { text: statement.text, values: statement.values, name, discardRows: statement.discardRows });
    }
    return named;
  }

  /**
   * Whether `error`, raised by `statements` (a pipeline), is the server not having the statement
   * one of them was bound to: SQLSTATE 26000 at a statement sent with a name. Any name: behind
   * PgBouncer 1.21+ the server's statement is PgBouncer's (`PGBOUNCER_n`), not ours. The
   * application's own SQL raising 26000 (EXECUTE of a statement it never prepared) is not this.
   */
  static lostStatement(error: unknown, statements: readonly PipelinedStatement[]): boolean {
    const { code, statementIndex } = (error ?? {}) as PipelineError & { code?: string };
    return code === UNKNOWN_STATEMENT && statementIndex !== undefined && statements[statementIndex]?.name !== undefined;
  }

  /** Makes node-postgres parse `statements` again on `client`'s connection the next time they are sent. */
  static forget(client: object, statements: readonly PipelinedStatement[]): void {
    const parsed = (client as { connection?: { parsedStatements?: Record<string, string> } }).connection?.parsedStatements;
    for (const { name } of statements) if (name !== undefined && parsed) delete parsed[name];
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
 * there can only be this text, never another process's statement bound to our values. (Public, and
 * readable on the connection: what keeps an impostor out is the session guard, not the name.)
 */
function statementName(text: string): string {
  return `fdl_${createHash('sha256').update(text).digest('hex').slice(0, 32)}`;
}

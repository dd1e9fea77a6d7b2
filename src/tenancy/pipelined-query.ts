import { dirname } from 'node:path';
import { Query, type QueryResult } from 'pg';
import { uninstrumentedQuery } from '../observability/pg-instrumentation';

// pg's own conversion of JS values to wire text (Dates, Buffers, arrays, JSON), as client.query uses.
const { prepareValue } = require('pg/lib/utils') as { prepareValue(value: unknown): unknown };

// pg's own message serializer, from the pg-protocol that this pg depends on.
const { serialize } = require(require.resolve('pg-protocol', { paths: [dirname(require.resolve('pg/package.json'))] })) as { serialize: MessageSerializer };

interface MessageSerializer {
  parse(message: { text: string }): Buffer;
  bind(message: { values?: readonly unknown[]; valueMapper?: (value: unknown) => unknown }): Buffer;
  describe(message: { type: 'P'; name: string }): Buffer;
  execute(message: { portal: string }): Buffer;
  sync(): Buffer;
}

// Query's message handlers, which @types/pg does not declare.
const queryHandlers = Query.prototype as unknown as { handleCommandComplete(message: unknown, connection: unknown): void };

/** One statement of a pipeline: text with `$n` placeholders and the values bound to them. */
export interface PipelinedStatement {
  text: string;
  values?: readonly unknown[];
}

interface WireConnection {
  stream: { writable: boolean; write(buffer: Buffer): boolean };
}

/** The error of a pipeline, with the index of the statement that raised it. */
export type PipelineError = Error & { statementIndex?: number };

/** Told as each statement of a pipeline completes (its index), e.g. to time it. */
export type StatementCompleted = (statementIndex: number) => void;

/**
 * Sends several parameterised statements in one round trip, as extended-protocol
 * Parse/Bind/Describe/Execute messages for each, followed by a single Sync.
 *
 * node-postgres waits for each query's ReadyForQuery before sending the next, so the statements of
 * a tenant prelude would otherwise cost a round trip each. Values travel as bind parameters: nothing
 * from outside is spliced into SQL text. When a statement fails, the server skips the rest up to the
 * Sync; the call rejects with that error, its `statementIndex` set.
 */
class PipelinedQuery extends Query {
  private completed = 0;

  constructor(
    private readonly statements: readonly PipelinedStatement[],
    callback: (error: PipelineError | null, results: QueryResult | QueryResult[]) => void,
    private readonly onStatementCompleted?: StatementCompleted,
  ) {
    super({ text: statements.map((s) => s.text).join('; ') }, undefined, ((error: PipelineError | null, results: never) => {
      if (error) error.statementIndex = this.completed;
      callback(error, results);
    }) as never);
  }

  requiresPreparation(): boolean {
    return true;
  }

  handleCommandComplete(message: unknown, connection: unknown): void {
    const index = this.completed++;
    this.onStatementCompleted?.(index);
    queryHandlers.handleCommandComplete.call(this, message, connection);
  }

  /**
   * Writes the whole pipeline as one buffer. node-postgres writes each message on its own (corked, so
   * one `writev` of 4 × n + 1 buffers); in a VM a `writev` of many small buffers costs about twice a
   * plain write, and this is half of the socket writes of a transaction.
   */
  prepare(connection: WireConnection): void {
    const messages: Buffer[] = [];
    for (const statement of this.statements) {
      messages.push(
        serialize.parse({ text: statement.text }),
        serialize.bind({ values: statement.values ?? [], valueMapper: prepareValue }),
        serialize.describe({ type: 'P', name: '' }),
        serialize.execute({ portal: '' }),
      );
    }
    messages.push(serialize.sync());
    if (connection.stream.writable) connection.stream.write(Buffer.concat(messages));
  }
}

/**
 * Runs `statements` in one round trip on `client`; resolves to one result per statement.
 *
 * It is submitted with node-postgres's own `query`, past any tracing wrapper: a wrapper sees one
 * call as one statement (one span named BEGIN for the whole pipeline) and some rebuild the query
 * object, which breaks it. The caller reports the statements instead (see pipeline-tracing.ts).
 */
export function queryPipelined(
  client: object,
  statements: readonly PipelinedStatement[],
  onStatementCompleted?: StatementCompleted,
): Promise<QueryResult[]> {
  return new Promise((resolve, reject) => {
    const query = new PipelinedQuery(
      statements,
      (error, results) => {
        if (error) reject(error);
        else resolve(Array.isArray(results) ? results : [results]);
      },
      onStatementCompleted,
    );
    uninstrumentedQuery(client).call(client, query);
  });
}

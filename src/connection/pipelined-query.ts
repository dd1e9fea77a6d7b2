import { dirname } from 'node:path';
import { Query, type QueryResult } from 'pg';
import { uninstrumentedQuery } from '../observability/pg-instrumentation';

// pg's own conversion of JS values to wire text (Dates, Buffers, arrays, JSON), as client.query uses.
const { prepareValue } = require('pg/lib/utils') as { prepareValue(value: unknown): unknown };

// pg's own message serializer, from the pg-protocol that this pg depends on.
const { serialize } = require(require.resolve('pg-protocol', { paths: [dirname(require.resolve('pg/package.json'))] })) as { serialize: MessageSerializer };

interface MessageSerializer {
  parse(message: { text: string; name?: string }): Buffer;
  bind(message: { statement?: string; values?: readonly unknown[]; valueMapper?: (value: unknown) => unknown }): Buffer;
  close(message: { type: 'S'; name: string }): Buffer;
  describe(message: { type: 'P'; name: string }): Buffer;
  execute(message: { portal: string }): Buffer;
  sync(): Buffer;
}

// Query's message handlers, which @types/pg does not declare.
const queryHandlers = Query.prototype as unknown as {
  handleCommandComplete(message: unknown, connection: unknown): void;
  handleDataRow(message: unknown): void;
};

/** One statement of a pipeline: text with `$n` placeholders and the values bound to them. */
export interface PipelinedStatement {
  text: string;
  values?: readonly unknown[];
  /**
   * A server-side prepared statement of this text (prepared-statements.ts): parsed once on each
   * connection, then only bound. One name always stands for one text.
   */
  name?: string;
  /**
   * Never prepared: the text holds a value and changes from call to call, or the statement runs before
   * the session guard, where a name could be an impostor's (prelude.ts).
   */
  unnamed?: boolean;
  /**
   * Nobody reads its rows (the prelude's statements): it is sent without Describe, and its rows are
   * dropped unparsed. pg would otherwise build a row parser per column for each such statement.
   */
  discardRows?: boolean;
}

interface WireConnection {
  stream: { writable: boolean; write(buffer: Buffer): boolean };
  /** node-postgres's record of the named statements this connection has parsed (name → text). */
  parsedStatements: Record<string, string>;
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
  private connection?: WireConnection;

  constructor(
    private readonly statements: readonly PipelinedStatement[],
    callback: (error: PipelineError | null, results: QueryResult | QueryResult[]) => void,
    private readonly onStatementCompleted?: StatementCompleted,
  ) {
    // The text as a string, not a config object: pg copies an object through its property descriptors.
    super(statements.map((s) => s.text).join('; '), undefined, ((error: PipelineError | null, results: never) => {
      if (error) error.statementIndex = this.completed;
      this.recordParsed(error ? this.completed : undefined);
      callback(error, results);
    }) as never);
  }

  requiresPreparation(): boolean {
    return true;
  }

  handleDataRow(message: unknown): void {
    if (!this.statements[this.completed]?.discardRows) queryHandlers.handleDataRow.call(this, message);
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
    for (const { text, values, name, discardRows } of this.statements) {
      if (name === undefined || connection.parsedStatements[name] !== text) {
        // Close first: a Parse under a name the server already has fails, and a pipeline that
        // failed earlier may have left this one parsed without our knowing. Closing an absent
        // statement is no error.
        if (name !== undefined) messages.push(serialize.close({ type: 'S', name }));
        messages.push(serialize.parse({ text, name }));
      }
      messages.push(serialize.bind({ statement: name, values: values ?? [], valueMapper: prepareValue }));
      if (!discardRows) messages.push(serialize.describe({ type: 'P', name: '' }));
      messages.push(serialize.execute({ portal: '' }));
    }
    messages.push(serialize.sync());
    if (connection.stream.writable) connection.stream.write(Buffer.concat(messages));
    this.connection = connection;
  }

  /** Records the named statements the server has now parsed: every one before a failing statement. */
  recordParsed(failedAt?: number): void {
    if (!this.connection) return;
    this.statements.forEach(({ text, name }, index) => {
      if (name !== undefined && (failedAt === undefined || index < failedAt)) this.connection!.parsedStatements[name] = text;
    });
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

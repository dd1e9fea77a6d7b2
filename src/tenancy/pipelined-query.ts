import { Query, type QueryResult } from 'pg';

/** One statement of a pipeline: text with `$n` placeholders and the values bound to them. */
export interface PipelinedStatement {
  text: string;
  values?: readonly (string | null)[];
}

interface WireConnection {
  parse(message: { text: string }): void;
  bind(message: { values?: readonly (string | null)[] }): void;
  describe(message: { type: 'P'; name: string }): void;
  execute(message: { portal: string }): void;
  sync(): void;
}

/**
 * Sends several parameterised statements in one round trip, as extended-protocol
 * Parse/Bind/Describe/Execute messages for each followed by a single Sync.
 *
 * node-postgres waits for each query's ReadyForQuery before sending the next, so `BEGIN`, the role
 * switch, the tenant setting and the tenant check would otherwise cost four round trips. Values
 * travel as bind parameters: nothing from outside is ever spliced into SQL text. If a statement
 * fails, the server skips the rest up to the Sync and the whole call rejects with that error.
 */
class PipelinedQuery extends Query {
  constructor(
    private readonly statements: readonly PipelinedStatement[],
    callback: (error: Error | null, results: QueryResult | QueryResult[]) => void,
  ) {
    super({ text: statements.map((s) => s.text).join('; ') }, undefined, callback as never);
  }

  requiresPreparation(): boolean {
    return true;
  }

  prepare(connection: WireConnection): void {
    for (const statement of this.statements) {
      connection.parse({ text: statement.text });
      connection.bind({ values: statement.values ?? [] });
      connection.describe({ type: 'P', name: '' });
      connection.execute({ portal: '' });
    }
    connection.sync();
  }
}

/** Runs `statements` in one round trip on `client`; resolves to one result per statement. */
export function queryPipelined(
  client: { query(query: Query): unknown },
  statements: readonly PipelinedStatement[],
): Promise<QueryResult[]> {
  return new Promise((resolve, reject) => {
    client.query(
      new PipelinedQuery(statements, (error, results) => {
        if (error) reject(error);
        else resolve(Array.isArray(results) ? results : [results]);
      }),
    );
  });
}

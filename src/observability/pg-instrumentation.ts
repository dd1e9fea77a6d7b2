/**
 * How the module sees tracing wrappers around node-postgres's `Client.prototype.query`, such as
 * `@opentelemetry/instrumentation-pg`.
 *
 * Such a wrapper models one call as one statement: it names the span after the first word of the
 * text, copies a query object into a plain `{ ...query, text }` to add a sqlcommenter comment (which
 * drops the pipeline's class, so PostgreSQL sees `$1` with no parameters), and may send a
 * `SET application_name` round trip before it. The pipelined prelude is handed past the wrappers
 * and reported by the module itself (pipeline-tracing.ts), one span per logical statement.
 */

type QueryFunction = (this: unknown, ...args: unknown[]) => unknown;

/** The marks shimmer leaves on a wrapped function; `isWrapped` of @opentelemetry/instrumentation reads the same. */
interface WrappedFunction extends QueryFunction {
  __original: QueryFunction;
  __unwrap: unknown;
  __wrapped: true;
}

function isWrapped(fn: unknown): fn is WrappedFunction {
  const candidate = fn as Partial<WrappedFunction> | undefined;
  return typeof fn === 'function' && typeof candidate!.__original === 'function' && typeof candidate!.__unwrap === 'function' && candidate!.__wrapped === true;
}

/** Whether `client.query` is wrapped by an instrumentation (so spans are expected of its statements). */
export function isQueryInstrumented(client: object): boolean {
  return isWrapped((queryOwner(client) as { query?: unknown }).query);
}

/** Where `client`'s own `query` lives: its prototype when the instance carries an override. */
function queryOwner(client: object): object {
  return Object.prototype.hasOwnProperty.call(client, 'query') ? Object.getPrototypeOf(client) : client;
}

/**
 * node-postgres's own `query` of `client`, under any instrumentation wrappers and past an override
 * on the instance (scoped-transaction.ts puts one there while the prelude is in flight).
 */
export function uninstrumentedQuery(client: object): QueryFunction {
  let query = (queryOwner(client) as { query: QueryFunction }).query;
  while (isWrapped(query)) query = query.__original;
  return query;
}

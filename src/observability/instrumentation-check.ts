import { randomBytes } from 'node:crypto';
import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';
import { openTelemetry } from './otel-api';
import { isQueryInstrumented } from './pg-instrumentation';

/** A W3C traceparent, which instrumentation-pg's enableTraceContextPropagation puts in application_name. */
const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** An OpenTelemetry setting this module cannot honour; thrown at start. */
export class ObservabilityConfigError extends Error {
  override name = 'ObservabilityConfigError';
}

/**
 * Refuses instrumentation-pg's `enableTraceContextPropagation`, which the module cannot honour: it
 * sends a session-level `SET application_name` before every statement, a round trip each, and
 * leaves the setting on the pooled connection for the next borrower (or, behind PgBouncer in
 * transaction mode, another client). The instrumentation's configuration cannot be read, so one
 * statement is sent under a parent span that is valid but not sampled (nothing is exported) and
 * the setting it leaves is looked at. The connection is discarded if the SET reached it.
 */
export async function refuseSessionLevelTracing(dataSource: DataSource): Promise<void> {
  const api = openTelemetry();
  const pool = (dataSource.driver as unknown as { master?: Pool }).master;
  if (!api || !pool) return;
  const client = await pool.connect();
  let tainted = false;
  try {
    if (!isQueryInstrumented(client)) return;
    const parent = api.trace.wrapSpanContext({
      traceId: randomBytes(16).toString('hex'),
      spanId: randomBytes(8).toString('hex'),
      traceFlags: api.TraceFlags.NONE,
    });
    const { rows } = await api.context.with(api.trace.setSpan(api.context.active(), parent), () =>
      client.query<{ name: string }>(`SELECT current_setting('application_name') AS name`),
    );
    tainted = TRACEPARENT.test(rows[0].name);
  } finally {
    client.release(tainted);
  }
  if (tainted) {
    await dataSource.destroy();
    throw new ObservabilityConfigError(
      "instrumentation-pg's enableTraceContextPropagation is not supported by fdl-runtime-db: it sends a " +
        'session-level SET application_name before every statement (a round trip each) and leaves it on the ' +
        'pooled connection. Turn it off; addSqlCommenterCommentToQueries carries the trace context in the ' +
        'statements instead.',
    );
  }
}

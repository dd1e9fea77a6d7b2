import type { Attributes, Span } from '@opentelemetry/api';
import type { DatabaseScope } from '../tenancy/database-scope';
import type { PipelineError, PipelinedStatement, StatementCompleted } from '../connection/pipelined-query';
import type { DatabaseTelemetry } from '../observability/database-telemetry';
import { INSTRUMENTATION_SCOPE, INSTRUMENTATION_VERSION, openTelemetry } from '../observability/otel-api';
import { isQueryInstrumented } from '../observability/pg-instrumentation';
import { ATTR } from '../observability/telemetry-names';

/** The name of the span of a transaction's prelude (BEGIN, the settings, the tenant check). */
export const PRELUDE_SPAN_NAME = 'fdl.prelude';

/** Observes one pipelined round trip: told as each statement completes, then when it settles. */
export interface PipelineReport {
  statementCompleted: StatementCompleted;
  /** `error` of the pipeline if it failed; `refusal`, what the module made of a prelude error. */
  settled(error?: PipelineError, refusal?: Error): void;
}

interface ConnectionParameters {
  database?: string;
  host?: string;
  port?: number;
}

/**
 * Reports the prelude's round trip the way an instrumentation of `pg` reports single statements,
 * when there is one (the round trip was handed past it): a span `fdl.prelude` for the module's
 * statements, then a span for the application's first statement named and described as the
 * instrumentation names its others (`pg.query:SELECT <database>`), with its own time and its own
 * error. A refused tenant ends at the prelude's span: the server skipped the statement behind it.
 * Parameter values are never recorded.
 */
export function reportPipeline(
  client: object,
  prelude: readonly PipelinedStatement[],
  first: PipelinedStatement | undefined,
  scope: DatabaseScope,
  telemetry?: DatabaseTelemetry,
): PipelineReport | undefined {
  const api = openTelemetry();
  if (!api || !isQueryInstrumented(client)) return undefined;
  const { trace, context, SpanKind, SpanStatusCode } = api;
  // Statements complete in the socket's callbacks: the request's context is taken now.
  const parent = context.active();
  const tracer = trace.getTracer(INSTRUMENTATION_SCOPE, INSTRUMENTATION_VERSION);
  const connection = (client as { connectionParameters?: ConnectionParameters }).connectionParameters ?? {};
  const common: Attributes = {
    [ATTR.dbSystem]: 'postgresql',
    [ATTR.dbNamespace]: connection.database,
    [ATTR.serverAddress]: connection.host,
    [ATTR.serverPort]: connection.port,
  };
  const spanAttributes: Attributes = { ...common };
  if (telemetry?.tenantIdOnSpans && scope.kind === 'tenant') spanAttributes[ATTR.tenantId] = scope.tenantId;
  const suffix = connection.database ? ` ${connection.database}` : '';

  const preludeSpan = tracer.startSpan(
    `${PRELUDE_SPAN_NAME}${suffix}`,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        ...spanAttributes,
        [ATTR.operationName]: 'BATCH',
        [ATTR.batchSize]: prelude.length,
        [ATTR.queryText]: prelude.map((statement) => statement.text).join('; '),
        [ATTR.transactionScope]: scope.kind,
      },
    },
    parent,
  );
  const operation = first && operationName(first.text);
  let preludeCompleted = false;
  let firstSpan: Span | undefined;
  let firstStarted = 0;

  const fail = (span: Span, error: Error, code = errorCode(error)) => {
    if (code) span.setAttribute(ATTR.errorType, code);
    span.recordException(`PostgreSQL error of type '${error.name}' occurred (code: ${code ?? 'UNKNOWN'})`);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
  };

  return {
    statementCompleted(index) {
      // Once: a round trip sent again unnamed (prepared-statements.ts) completes the prelude again,
      // and the first statement's span then covers both attempts.
      if (index !== prelude.length - 1 || preludeCompleted) return;
      preludeCompleted = true;
      preludeSpan.end();
      if (!first) return;
      firstStarted = performance.now();
      firstSpan = tracer.startSpan(
        `pg.query:${operation}${suffix}`,
        { kind: SpanKind.CLIENT, attributes: { ...spanAttributes, [ATTR.operationName]: operation, [ATTR.queryText]: first.text } },
        parent,
      );
    },
    settled(error, refusal) {
      if (error && (error.statementIndex ?? 0) < prelude.length) {
        fail(preludeSpan, refusal ?? error, errorCode(error));
        preludeSpan.end();
        return;
      }
      if (!firstSpan) return;
      if (error) fail(firstSpan, error);
      firstSpan.end();
      const code = error && errorCode(error);
      telemetry?.operationTimed((performance.now() - firstStarted) / 1000, {
        ...common,
        [ATTR.operationName]: operation,
        ...(code ? { [ATTR.errorType]: code } : {}),
      });
    },
  };
}

const errorCode = (error: Error): string | undefined => (error as { code?: string }).code;

/** The statement's first word, upper-cased: instrumentation-pg's span naming. */
function operationName(text: string): string {
  const word = text.trim().split(/\s+/, 1)[0].toUpperCase();
  return word.endsWith(';') ? word.slice(0, -1) : word;
}

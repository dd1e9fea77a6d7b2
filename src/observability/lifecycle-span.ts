import { INSTRUMENTATION_SCOPE, INSTRUMENTATION_VERSION, openTelemetry } from './otel-api';
import { ATTR } from './telemetry-names';

/**
 * Runs a lifecycle write in a span of its own named after its audit action
 * (`fdl.flow.version_published`, `fdl.execution.started`, …), so that its database spans (one
 * `pg.query:WITH` on one node, a statement each on Citus) read in a trace as the operation they
 * make, instead of a row of identical `pg.query:WITH`. Without `@opentelemetry/api`: `work()`.
 */
export async function inLifecycleSpan<T>(action: string, work: () => Promise<T>): Promise<T> {
  const api = openTelemetry();
  if (!api) return work();
  const tracer = api.trace.getTracer(INSTRUMENTATION_SCOPE, INSTRUMENTATION_VERSION);
  return tracer.startActiveSpan(`fdl.${action}`, { kind: api.SpanKind.INTERNAL, attributes: { [ATTR.auditAction]: action } }, async (span) => {
    try {
      return await work();
    } catch (error) {
      span.setStatus({ code: api.SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  });
}

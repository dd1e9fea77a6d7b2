import type * as OpenTelemetryApi from '@opentelemetry/api';

/** The name and version our tracer and meter report as their instrumentation scope. */
export const INSTRUMENTATION_SCOPE = 'fdl-runtime-db';
export const INSTRUMENTATION_VERSION: string = (require('../../package.json') as { version: string }).version;

let loaded: typeof OpenTelemetryApi | null | undefined;

/**
 * `@opentelemetry/api`, or undefined when the application has not installed it (it is an optional
 * peer): the module then reports nothing and costs nothing. Loaded on first use, never at import,
 * so that requiring the library never fails for want of it.
 */
export function openTelemetry(): typeof OpenTelemetryApi | undefined {
  if (loaded === undefined) {
    try {
      loaded = require('@opentelemetry/api') as typeof OpenTelemetryApi;
    } catch {
      loaded = null;
    }
  }
  return loaded ?? undefined;
}

let core: { getRPCMetadata?(context: OpenTelemetryApi.Context): { span?: OpenTelemetryApi.Span } | undefined } | null | undefined;

/**
 * The HTTP server span of the request being served, where instrumentation-http recorded it in the
 * context (`@opentelemetry/core`'s RPC metadata, which instrumentation-express also reads to name
 * the route): the active span is then a framework's own child span (express's `request handler`),
 * not the request's. Undefined without `@opentelemetry/core` or outside such a request.
 */
export function requestServerSpan(api: typeof OpenTelemetryApi): OpenTelemetryApi.Span | undefined {
  if (core === undefined) {
    try {
      core = require('@opentelemetry/core') as typeof core;
    } catch {
      core = null;
    }
  }
  return core?.getRPCMetadata?.(api.context.active())?.span;
}

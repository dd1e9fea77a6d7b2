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

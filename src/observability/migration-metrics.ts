import { INSTRUMENTATION_SCOPE, INSTRUMENTATION_VERSION, openTelemetry } from './otel-api';
import { METRIC } from './telemetry-names';

/** Counts migrations applied at start (`fdl.migrations.applied`). */
export function recordMigrationsApplied(count: number): void {
  openTelemetry()
    ?.metrics.getMeter(INSTRUMENTATION_SCOPE, INSTRUMENTATION_VERSION)
    .createCounter(METRIC.migrationsApplied, { description: 'Migrations applied at start.', unit: '{migration}' })
    .add(count);
}

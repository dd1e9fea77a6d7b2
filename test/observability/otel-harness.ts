import { type Context, metrics, type Span, trace } from '@opentelemetry/api';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { ExpressInstrumentation } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PgInstrumentation, type PgInstrumentationConfig } from '@opentelemetry/instrumentation-pg';
import { type DataPoint, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

/** Reads metrics on demand. */
class TestMetricReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/** Keeps every span as it starts, so that a span started and never ended can be found. */
class StartedSpans implements SpanProcessor {
  readonly spans: Span[] = [];
  onStart(span: Span, _context: Context): void {
    this.spans.push(span);
  }
  onEnd(): void {}
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

/**
 * OpenTelemetry as an application sets it up (tracer and meter providers, instrumentation-pg and
 * instrumentation-http), in this process, exporting to memory. Jest loads modules through its own
 * registry, which the instrumentations' require hooks never see: they patch `pg`, `pg-pool` and
 * `http` here by hand, through their public module definitions, and unpatch at the end (`http` is
 * shared by every spec file of the worker).
 */
export class OtelHarness {
  readonly spans = new InMemorySpanExporter();
  private readonly started = new StartedSpans();
  private readonly tracerProvider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(this.spans), this.started] });
  private readonly reader = new TestMetricReader();
  private readonly meterProvider = new MeterProvider({ readers: [this.reader] });
  readonly pg = new PgInstrumentation({ enabled: false });
  private readonly http = new HttpInstrumentation({ enabled: false });
  private readonly patched: { unpatch(): void }[] = [];

  /** `express`: instrumentation-express too, as an application that traces its routes has it. */
  constructor(private readonly options: { express?: boolean } = {}) {}

  start(): this {
    this.tracerProvider.register();
    metrics.setGlobalMeterProvider(this.meterProvider);
    const instrumentations = [this.pg, this.http, ...(this.options.express ? [new ExpressInstrumentation({ enabled: false })] : [])];
    for (const instrumentation of instrumentations as Instrumentation[]) {
      instrumentation.setTracerProvider(this.tracerProvider);
      instrumentation.setMeterProvider(this.meterProvider);
      for (const definition of (instrumentation as unknown as { getModuleDefinitions(): ModuleDefinition[] }).getModuleDefinitions()) {
        const exports = require(definition.name);
        definition.patch?.(exports);
        this.patched.push({ unpatch: () => definition.unpatch?.(exports) });
      }
    }
    return this;
  }

  /** instrumentation-pg's options, as an application would set them. */
  configurePg(config: PgInstrumentationConfig): void {
    this.pg.setConfig(config);
  }

  async stop(): Promise<void> {
    for (const { unpatch } of this.patched.reverse()) unpatch();
    await this.tracerProvider.shutdown();
    await this.meterProvider.shutdown();
    trace.disable();
    metrics.disable();
  }

  finishedSpans(): ReadableSpan[] {
    return this.spans.getFinishedSpans();
  }

  /** The names of the spans of trace `traceId` that were started and have not ended. */
  unendedSpans(traceId: string): string[] {
    return this.started.spans
      .filter((span) => span.spanContext().traceId === traceId && span.isRecording())
      .map((span) => (span as unknown as ReadableSpan).name);
  }

  /** The data points of metric `name` from any scope, with the scope's name. */
  async metric(name: string): Promise<(DataPoint<unknown> & { scope: string })[]> {
    const { resourceMetrics } = await this.reader.collect();
    return resourceMetrics.scopeMetrics.flatMap((scope) =>
      scope.metrics
        .filter((metric) => metric.descriptor.name === name)
        .flatMap((metric) => (metric.dataPoints as DataPoint<unknown>[]).map((point) => ({ ...point, scope: scope.scope.name }))),
    );
  }
}

interface ModuleDefinition {
  name: string;
  patch?(exports: unknown): unknown;
  unpatch?(exports: unknown): unknown;
}

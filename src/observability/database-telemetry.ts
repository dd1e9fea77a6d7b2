import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Attributes, Counter, Histogram, UpDownCounter } from '@opentelemetry/api';
import { readBooleanOption } from '../config/database-config';
import type { FairnessObserver } from '../fairness/tenant-scheduler';
import { SYSTEM_KEY } from '../fairness/tenant-scheduler';
import type { DatabaseModuleOptions } from '../config/database-module-options';
import { DATABASE_MODULE_OPTIONS } from '../config/database.internal-constants';
import type { DatabaseScope } from '../tenancy/database-scope';
import { INSTRUMENTATION_SCOPE, INSTRUMENTATION_VERSION, openTelemetry, requestServerSpan } from './otel-api';
import { ATTR, METRIC } from './telemetry-names';
import { transactionOutcome } from './transaction-outcome';

interface Instruments {
  tenantWaiting: UpDownCounter;
  tenantHolding: UpDownCounter;
  tenantWaitDuration: Histogram;
  tenantRefusals: Counter;
  transactionDuration: Histogram;
  preludeRefusals: Counter;
  sessionStateFound: Counter;
  transactionsRunAgain: Counter;
  operationDuration: Histogram;
}

/** Ends the observation of one transaction: `error` is what it ended with (none: committed). */
export type TransactionFinished = (error?: unknown) => void;

/**
 * What the module tells OpenTelemetry about its transactions, when `@opentelemetry/api` is
 * installed: the tenant on the active span (when asked), and the transaction metrics. Without the
 * API, every method is a no-op.
 */
@Injectable()
export class DatabaseTelemetry {
  /** Whether the tenant id goes on spans (`fdl.tenant.id`). */
  readonly tenantIdOnSpans: boolean;
  /** Whether the tenant id goes on the per-tenant pool metrics. */
  private readonly tenantIdOnMetrics: boolean;
  private instruments?: Instruments;

  constructor(@Inject(DATABASE_MODULE_OPTIONS) options: DatabaseModuleOptions) {
    this.tenantIdOnSpans = readBooleanOption(options.tenantIdOnSpans, 'tenantIdOnSpans');
    this.tenantIdOnMetrics = readBooleanOption(options.tenantIdOnMetrics, 'tenantIdOnMetrics');
  }

  /**
   * What the tenant scheduler reports: per tenant with `tenantIdOnMetrics`, otherwise by scope
   * (tenant or system) only. Undefined without `@opentelemetry/api`: the scheduler then calls nothing.
   */
  fairnessObserver(): FairnessObserver | undefined {
    if (!openTelemetry()) return undefined;
    const attributes = (key: string): Attributes =>
      key === SYSTEM_KEY
        ? { [ATTR.transactionScope]: 'system' }
        : this.tenantIdOnMetrics
          ? { [ATTR.transactionScope]: 'tenant', [ATTR.tenantId]: key }
          : { [ATTR.transactionScope]: 'tenant' };
    return {
      waiting: (key, delta) => this.meters()?.tenantWaiting.add(delta, attributes(key)),
      holding: (key, delta) => this.meters()?.tenantHolding.add(delta, attributes(key)),
      waited: (key, seconds) => this.meters()?.tenantWaitDuration.record(seconds, attributes(key)),
      refused: (key, reason) => this.meters()?.tenantRefusals.add(1, { ...attributes(key), [ATTR.refusalReason]: reason }),
    };
  }

  /** Call as a transaction begins, in its caller's context; call the result when it has ended. */
  transactionStarted(scope: DatabaseScope): TransactionFinished {
    const api = openTelemetry();
    if (!api) return () => undefined;
    if (this.tenantIdOnSpans && scope.kind === 'tenant') {
      // The request's own span too, where a framework's span (express's request handler) is active.
      for (const span of new Set([api.trace.getActiveSpan(), requestServerSpan(api)])) span?.setAttribute(ATTR.tenantId, scope.tenantId);
    }
    const started = performance.now();
    return (error) => {
      this.meters()?.transactionDuration.record((performance.now() - started) / 1000, {
        [ATTR.transactionScope]: scope.kind,
        [ATTR.transactionOutcome]: transactionOutcome(error),
      });
    };
  }

  /** The prelude refused the tenant. */
  preludeRefused(reason: 'unknown' | 'suspended'): void {
    this.meters()?.preludeRefusals.add(1, { [ATTR.refusalReason]: reason });
  }

  /**
   * The session guard found state that an earlier transaction left on a pooled connection (SQL the
   * module never sends: a sign of injected SQL). The connection is discarded; a security reviewer
   * wants to hear of it, so it is logged as well as counted. `found` is the guard's list of kinds.
   */
  sessionStateFound(found: string): void {
    new Logger('DatabaseModule').warn(
      `A pooled connection held session state left by an earlier transaction (${found}): it was discarded and the transaction ` +
        'ran on a fresh connection. The module never leaves such state: look for SQL built from input (SECURITY.md, "Session state").',
    );
    this.meters()?.sessionStateFound.add(1);
  }

  /**
   * The server asked for a transaction to be run again during its first round trip, and it was, before
   * any of its results reached the work. `reason`: 'deadlock' or 'serialization failure'.
   */
  transactionRunAgain(reason: string): void {
    this.meters()?.transactionsRunAgain.add(1, { [ATTR.runAgainReason]: reason });
  }

  /** A statement of the prelude's round trip, which no instrumentation of `pg` could time. */
  operationTimed(seconds: number, attributes: Record<string, string | number | undefined>): void {
    this.meters()?.operationDuration.record(seconds, attributes);
  }

  // Instruments are made on first use rather than at import: a meter taken before the SDK is
  // registered would stay a no-op (the metrics API, unlike tracing, has no proxy provider).
  private meters(): Instruments | undefined {
    if (this.instruments) return this.instruments;
    const api = openTelemetry();
    if (!api) return undefined;
    const meter = api.metrics.getMeter(INSTRUMENTATION_SCOPE, INSTRUMENTATION_VERSION);
    this.instruments = {
      tenantWaiting: meter.createUpDownCounter(METRIC.tenantWaiting, {
        description: "A tenant's transactions waiting for their turn at the pool.",
        unit: '{transaction}',
      }),
      tenantHolding: meter.createUpDownCounter(METRIC.tenantHolding, {
        description: "Pooled connections held by a tenant's transactions.",
        unit: '{connection}',
      }),
      tenantWaitDuration: meter.createHistogram(METRIC.tenantWaitDuration, {
        description: 'How long a transaction waited for its turn at the pool.',
        unit: 's',
        advice: { explicitBucketBoundaries: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5] },
      }),
      tenantRefusals: meter.createCounter(METRIC.tenantRefusals, {
        description: 'Transactions refused before they took a connection: their tenant had too many waiting, or waited too long.',
        unit: '{transaction}',
      }),
      transactionDuration: meter.createHistogram(METRIC.transactionDuration, {
        description: 'Duration of tenant and system transactions, from their start to commit or rollback.',
        unit: 's',
      }),
      preludeRefusals: meter.createCounter(METRIC.preludeRefusals, {
        description: 'Transactions whose prelude refused the tenant (unknown or suspended).',
        unit: '{transaction}',
      }),
      sessionStateFound: meter.createCounter(METRIC.sessionStateFound, {
        description: 'Pooled connections discarded because an earlier transaction left session state on them.',
        unit: '{connection}',
      }),
      transactionsRunAgain: meter.createCounter(METRIC.transactionsRunAgain, {
        description: 'Transactions begun again because the server asked for it (deadlock, serialization failure, a Citus shard moved) before any result reached the work.',
        unit: '{transaction}',
      }),
      operationDuration: meter.createHistogram(METRIC.operationDuration, {
        description: 'Duration of database client operations.',
        unit: 's',
        advice: { explicitBucketBoundaries: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10] },
      }),
    };
    return this.instruments;
  }
}

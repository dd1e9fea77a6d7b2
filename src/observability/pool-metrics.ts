import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';
import { INSTRUMENTATION_SCOPE, INSTRUMENTATION_VERSION, openTelemetry } from './otel-api';
import { ATTR, METRIC } from './telemetry-names';

/**
 * Reports the DataSource's pool (connections used and idle, requests waiting, its size) under the
 * semantic conventions' names, read from pg-pool when a metric reader collects. Requests waiting
 * include `waitingForTurn()`: the transactions the tenant scheduler holds back before they reach
 * pg-pool. Returns what stops the reporting; nothing when `@opentelemetry/api` is not installed.
 */
export function observePool(dataSource: DataSource, waitingForTurn: () => number = () => 0): (() => void) | undefined {
  const api = openTelemetry();
  const pool = (dataSource.driver as unknown as { master?: Pool & { options?: { max?: number } } }).master;
  if (!api || !pool) return undefined;
  const meter = api.metrics.getMeter(INSTRUMENTATION_SCOPE, INSTRUMENTATION_VERSION);
  const poolName = { [ATTR.poolName]: poolNameOf(dataSource) };
  const count = meter.createObservableUpDownCounter(METRIC.connectionCount, {
    description: 'The number of connections that are currently in state described by the state attribute.',
    unit: '{connection}',
  });
  const pending = meter.createObservableUpDownCounter(METRIC.pendingRequests, {
    description: 'The number of current pending requests for an open connection.',
    unit: '{request}',
  });
  const max = meter.createObservableUpDownCounter(METRIC.connectionMax, {
    description: 'The maximum number of open connections allowed.',
    unit: '{connection}',
  });
  const observe = (result: import('@opentelemetry/api').BatchObservableResult) => {
    result.observe(count, pool.totalCount - pool.idleCount, { ...poolName, [ATTR.connectionState]: 'used' });
    result.observe(count, pool.idleCount, { ...poolName, [ATTR.connectionState]: 'idle' });
    result.observe(pending, pool.waitingCount + waitingForTurn(), poolName);
    if (pool.options?.max !== undefined) result.observe(max, pool.options.max, poolName);
  };
  meter.addBatchObservableCallback(observe, [count, pending, max]);
  return () => meter.removeBatchObservableCallback(observe, [count, pending, max]);
}

/** `host:port/database`, the form instrumentation-pg gives its pools. */
function poolNameOf(dataSource: DataSource): string {
  const { url } = dataSource.options as { url?: string };
  try {
    const parsed = new URL(url ?? '');
    const host = parsed.hostname || parsed.searchParams.get('host') || 'unknown_host';
    return `${decodeURIComponent(host)}:${parsed.port || '5432'}/${decodeURIComponent(parsed.pathname.slice(1)) || 'unknown_database'}`;
  } catch {
    return 'unknown_host:unknown_port/unknown_database';
  }
}

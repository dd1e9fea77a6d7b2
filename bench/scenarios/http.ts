import autocannon from 'autocannon';
import { startBenchHttpApp } from '../bench-app';
import { compare, type Measurement, type ReportRow } from '../harness';
import type { Dataset } from './dataset';

/** Drives `path(i)` with autocannon; warm-up first, then a measured run. */
export async function drive(
  name: string,
  baseUrl: string,
  request: () => { path: string; headers?: Record<string, string> },
  options: { durationMs: number; connections: number; warmUp?: boolean },
): Promise<Measurement> {
  const fire = (seconds: number) =>
    autocannon({
      url: baseUrl,
      connections: options.connections,
      duration: seconds,
      requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, ...request() }) }],
    });
  if (options.warmUp !== false) await fire(Math.max(1, Math.round(options.durationMs / 4000)));
  const result = await fire(Math.max(1, Math.round(options.durationMs / 1000)));
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${name}: ${result.non2xx} non-2xx responses and ${result.errors} errors`);
  }
  return {
    name,
    ops: result.requests.total,
    opsPerSec: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
  };
}

/** GET /flows/:id through the interceptor against the same handler with no tenant scoping. */
export async function httpRead(url: string, data: Dataset, options: { durationMs: number; connections: number; poolSize: number }): Promise<ReportRow[]> {
  const app = await startBenchHttpApp(url, options.poolSize);
  let n = 0;
  const next = () => data.flows[(n++ * 7919) % data.flows.length];
  try {
    const unscoped = await drive('HTTP GET /bench/unscoped-flows/:id (no tenant)', app.baseUrl, () => ({ path: `/bench/unscoped-flows/${next().id}` }), options);
    const scoped = await drive(
      'HTTP GET /flows/:id through the interceptor',
      app.baseUrl,
      () => {
        const flow = next();
        return { path: `/flows/${flow.id}`, headers: { 'x-tenant-id': flow.tenantId } };
      },
      options,
    );
    return [{ group: 'http', ...unscoped }, compare('http', scoped, unscoped, 0.8)];
  } finally {
    await app.close();
  }
}

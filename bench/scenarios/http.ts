import { startBenchHttpApp } from '../bench-app';
import { compare, type Measurement, type ReportRow } from '../harness';
import { type LoadRequest, runLoad } from '../load-generator';
import type { Dataset } from './dataset';

/** Requests made ahead per second of a run: more than any route here serves, so none repeats early. */
const REQUESTS_PER_SECOND = 5_000;

/**
 * Drives the requests `request()` makes with autocannon in its own process (load-generator.ts):
 * a warm-up first, then a measured run.
 */
export async function drive(
  name: string,
  baseUrl: string,
  request: () => LoadRequest,
  options: { durationMs: number; connections: number; warmUp?: boolean },
): Promise<Measurement> {
  const fire = async (seconds: number) => {
    const requests = Array.from({ length: Math.ceil(seconds * REQUESTS_PER_SECOND) }, request);
    const result = await runLoad({ url: baseUrl, connections: options.connections, seconds, requests });
    if (result.non2xx > 0 || result.errors > 0) throw new Error(`${name}: ${result.non2xx} non-2xx responses and ${result.errors} errors`);
    return result;
  };
  if (options.warmUp !== false) await fire(Math.max(1, options.durationMs / 4000));
  const result = await fire(options.durationMs / 1000);
  return { name, ops: result.total, opsPerSec: result.total / result.seconds, p50Ms: result.p50Ms, p99Ms: result.p99Ms };
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

import { performance } from 'node:perf_hooks';

/** One measured row of the report. */
export interface Measurement {
  name: string;
  ops: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

/**
 * Runs `operation` from `concurrency` closed-loop callers for `durationMs` (after a warm-up of a
 * quarter of that) and reports throughput and latency percentiles.
 */
export async function measure(
  name: string,
  operation: (caller: number, iteration: number) => Promise<unknown>,
  options: { concurrency: number; durationMs: number },
): Promise<Measurement> {
  await runFor(operation, options.concurrency, options.durationMs / 4, []);
  const latencies: number[] = [];
  const started = performance.now();
  await runFor(operation, options.concurrency, options.durationMs, latencies);
  const elapsed = performance.now() - started;
  return summarise(name, latencies, elapsed);
}

/** `concurrency` closed-loop callers of `operation` for `durationMs`, each latency pushed to `latencies`. */
export async function runFor(
  operation: (caller: number, iteration: number) => Promise<unknown>,
  concurrency: number,
  durationMs: number,
  latencies: number[],
): Promise<void> {
  const deadline = performance.now() + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, caller) => {
      for (let iteration = 0; performance.now() < deadline; iteration++) {
        const start = performance.now();
        await operation(caller, iteration);
        latencies.push(performance.now() - start);
      }
    }),
  );
}

export function summarise(name: string, latencies: number[], elapsedMs: number): Measurement {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return {
    name,
    ops: sorted.length,
    opsPerSec: (sorted.length / elapsedMs) * 1000,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
  };
}

/** A report row: a measurement, and its ratio to a baseline measured in the same run. */
export interface ReportRow extends Measurement {
  group: string;
  baseline?: string;
  ratio?: number;
  target?: string;
  met?: boolean;
}

export function compare(group: string, subject: Measurement, baseline: Measurement, minRatio: number): ReportRow {
  const ratio = subject.opsPerSec / baseline.opsPerSec;
  return { group, ...subject, baseline: baseline.name, ratio, target: `≥ ${minRatio.toFixed(1)}×`, met: ratio >= minRatio };
}

/**
 * Measures several operations in alternating slices (A B C A B C …, `rounds` of each) instead of one
 * after the other, so that a change in the machine's load during the run (other processes on a
 * shared machine, autovacuum) weighs on all of them alike and their ratios stay comparable.
 */
export async function measureInterleaved(
  operations: { name: string; operation: (caller: number, iteration: number) => Promise<unknown> }[],
  options: { concurrency: number; durationMs: number; rounds: number },
): Promise<Measurement[]> {
  const slice = options.durationMs / options.rounds;
  for (const { operation } of operations) await runFor(operation, options.concurrency, options.durationMs / 4, []);
  const latencies = operations.map((): number[] => []);
  const elapsed = operations.map(() => 0);
  for (let round = 0; round < options.rounds; round++) {
    for (const [index, { operation }] of operations.entries()) {
      const started = performance.now();
      await runFor(operation, options.concurrency, slice, latencies[index]);
      elapsed[index] += performance.now() - started;
    }
  }
  return operations.map(({ name }, index) => summarise(name, latencies[index], elapsed[index]));
}

import type { ReportRow } from './harness';

const fmt = (value: number | undefined, digits = 0) =>
  value === undefined || Number.isNaN(value) ? '' : value.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** Prints the rows as a Markdown table (pasteable into the README), then the machine and the plan. */
export function printReport(rows: ReportRow[], machine: Record<string, unknown>, plan: string): void {
  const lines = [
    '| group | measurement | ops/s | p50 ms | p99 ms | ratio | vs | target | met |',
    '| --- | --- | ---: | ---: | ---: | ---: | --- | --- | --- |',
    ...rows.map((r) =>
      [
        r.group,
        r.name,
        fmt(r.opsPerSec),
        fmt(r.p50Ms, 2),
        fmt(r.p99Ms, 2),
        r.ratio === undefined ? '' : `${fmt(r.ratio, 2)}×`,
        r.baseline ?? '',
        r.target ?? '',
        r.met === undefined ? '' : r.met ? 'yes' : 'NO',
      ].join(' | '),
    ).map((line) => `| ${line} |`),
  ];
  console.log(lines.join('\n'));
  console.log(`\nmachine: ${JSON.stringify(machine)}`);
  console.log(`\nplan of GET /executions?limit=50 as one tenant:\n${plan}`);
}

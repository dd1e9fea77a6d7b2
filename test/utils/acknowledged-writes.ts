/**
 * A write load through the example API that remembers every write it was told succeeded, so that a
 * test can read each one back after an operation on the cluster: publishes of flow versions,
 * executions started, and states saved with the version they were read at. Each execution is saved
 * only by the client that started it, so the last acknowledged save is what the database must hold.
 */

export interface LoadTenant {
  id: string;
  flowId: string;
}

interface AcknowledgedVersion {
  tenant: string;
  flowId: string;
  id: string;
  version: number;
}

interface AcknowledgedExecution {
  tenant: string;
  id: string;
  version: number;
  /** The state of its last acknowledged save; none before the first. */
  state?: { n: number };
}

/** What a load run saw: what was acknowledged, and every answer that was not a success. */
export interface LoadReport {
  versions: AcknowledgedVersion[];
  executions: AcknowledgedExecution[];
  requests: number;
  /** How long each request took, in milliseconds, in the order they ended. */
  durations: number[];
  /** Answers other than 2xx, by "status message". */
  refusals: Map<string, number>;
}

/** Starts `clients` callers, each looping over the tenants from its own offset, until `stop()`. */
export function startWriteLoad(baseUrl: string, tenants: LoadTenant[], clients: number): { stop(): Promise<LoadReport> } {
  const report: LoadReport = { versions: [], executions: [], requests: 0, durations: [], refusals: new Map() };
  let running = true;
  let counter = 0;

  async function call(tenant: string, method: string, path: string, body: unknown): Promise<Record<string, unknown> | undefined> {
    report.requests++;
    let status: number;
    let payload: Record<string, unknown>;
    const started = performance.now();
    try {
      const response = await fetch(`${baseUrl}${path}`, {
        method,
        headers: { 'content-type': 'application/json', 'x-tenant-id': tenant },
        body: JSON.stringify(body),
      });
      status = response.status;
      payload = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    } catch (error) {
      status = 0;
      payload = { message: (error as Error).message };
    }
    report.durations.push(performance.now() - started);
    if (status >= 200 && status < 300) return payload;
    const key = `${status} ${String(payload.message)}`;
    report.refusals.set(key, (report.refusals.get(key) ?? 0) + 1);
    return undefined;
  }

  async function client(offset: number): Promise<void> {
    const mine: AcknowledgedExecution[] = [];
    const versionsOf = new Map<string, AcknowledgedVersion[]>();
    for (let i = offset; running; i++) {
      const tenant = tenants[i % tenants.length];
      const known = versionsOf.get(tenant.id) ?? [];
      const step = i % 3;
      if (step === 0 || known.length === 0) {
        const n = ++counter;
        const version = await call(tenant.id, 'POST', `/flows/${tenant.flowId}/versions`, { definition: { n } });
        if (version) {
          const acknowledged = { tenant: tenant.id, flowId: tenant.flowId, id: String(version.id), version: Number(version.version) };
          report.versions.push(acknowledged);
          versionsOf.set(tenant.id, [...known, acknowledged]);
        }
      } else if (step === 1) {
        const execution = await call(tenant.id, 'POST', '/executions', { flowVersionId: known[known.length - 1].id });
        if (execution) {
          const acknowledged: AcknowledgedExecution = { tenant: tenant.id, id: String(execution.id), version: Number(execution.version) };
          mine.push(acknowledged);
          report.executions.push(acknowledged);
        }
      } else {
        const execution = mine.find((candidate) => candidate.tenant === tenant.id);
        if (!execution) continue;
        const state = { n: ++counter };
        const saved = await call(tenant.id, 'PATCH', `/executions/${execution.id}`, { state, expectedVersion: execution.version });
        if (saved) {
          execution.version = Number(saved.version);
          execution.state = state;
        }
      }
    }
  }

  const clientsDone = Promise.all(Array.from({ length: clients }, (_, offset) => client(offset)));
  return {
    stop: async () => {
      running = false;
      await clientsDone;
      return report;
    },
  };
}

/**
 * Reads every acknowledged write back through the API, as its tenant: what is missing or differs,
 * one line each (empty when everything acknowledged was stored).
 */
export async function missingWrites(baseUrl: string, report: LoadReport): Promise<string[]> {
  const get = async (tenant: string, path: string) => {
    const response = await fetch(`${baseUrl}${path}`, { headers: { 'x-tenant-id': tenant } });
    return { status: response.status, body: (await response.json()) as unknown };
  };
  const missing: string[] = [];
  const flows = new Map<string, { tenant: string; flowId: string }>();
  for (const version of report.versions) flows.set(version.flowId, version);
  for (const { tenant, flowId } of flows.values()) {
    const { body } = await get(tenant, `/flows/${flowId}/versions`);
    const stored = new Map((body as { id: string; version: number }[]).map((version) => [version.id, version.version]));
    for (const version of report.versions.filter((candidate) => candidate.flowId === flowId)) {
      if (stored.get(version.id) !== version.version) missing.push(`version ${version.id} (${version.version}) of flow ${flowId}: stored ${String(stored.get(version.id))}`);
    }
  }
  for (const execution of report.executions) {
    const { status, body } = await get(execution.tenant, `/executions/${execution.id}`);
    const stored = body as { version?: number; state?: unknown };
    if (status !== 200 || stored.version !== execution.version || (execution.state && JSON.stringify(stored.state) !== JSON.stringify(execution.state))) {
      missing.push(`execution ${execution.id}: acknowledged version ${execution.version} ${JSON.stringify(execution.state)}, read ${status} ${JSON.stringify(body)}`);
    }
  }
  return missing;
}

/** The figures of a load run an operator's guide quotes: requests, refusals, latency percentiles. */
export function loadFigures(report: LoadReport): Record<string, unknown> {
  const sorted = [...report.durations].sort((a, b) => a - b);
  const at = (p: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0);
  return {
    requests: report.requests,
    refused: Object.fromEntries(report.refusals),
    p50: at(0.5),
    p99: at(0.99),
    max: Math.round(sorted[sorted.length - 1] ?? 0),
  };
}

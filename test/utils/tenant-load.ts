/** A flow as the example API returns it, reduced to what the leak checks read. */
export interface FlowRow {
  tenantId: string;
  name: string;
}

/** One request of a tenant to the example API over real HTTP, and what came back. */
export interface TenantResponse {
  tenantId: string;
  /** The flow name a write asked for; undefined for a read (GET /flows). */
  wrote?: string;
  status: number;
  /** The flows the response carried: the list of a read, the created flow of a write. */
  rows: FlowRow[];
  /** The error message of a response that is not 2xx. */
  message?: string;
}

/** Runs `tasks` with at most `limit` in flight. */
export async function inParallel<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const workers = Array.from({ length: limit }, async () => {
    while (next < tasks.length) {
      const index = next++;
      results[index] = await tasks[index]();
    }
  });
  await Promise.all(workers);
  return results;
}

/** GET /flows as `tenantId`, or POST /flows named `write` when given. */
export async function tenantRequest(baseUrl: string, tenantId: string, write?: string): Promise<TenantResponse> {
  const headers = { 'x-tenant-id': tenantId, 'content-type': 'application/json' };
  const res = write
    ? await fetch(`${baseUrl}/flows`, { method: 'POST', headers, body: JSON.stringify({ name: write }) })
    : await fetch(`${baseUrl}/flows`, { headers });
  const body = (await res.json()) as FlowRow | FlowRow[] | { message?: string };
  if (!res.ok) return { tenantId, wrote: write, status: res.status, rows: [], message: (body as { message?: string }).message };
  return { tenantId, wrote: write, status: res.status, rows: Array.isArray(body) ? body : [body as FlowRow] };
}

/**
 * The leak test's load: request `i` is made by tenant `i % tenants.length`; one round of tenants in
 * ten writes a flow named after its tenant, the others list their flows.
 */
export function mixedTenantRequests(baseUrl: string, tenants: string[], count: number): (() => Promise<TenantResponse>)[] {
  return Array.from({ length: count }, (_, i) => () => {
    const tenantId = tenants[i % tenants.length];
    return tenantRequest(baseUrl, tenantId, Math.floor(i / tenants.length) % 10 === 0 ? `${tenantId}-w${i}` : undefined);
  });
}

/**
 * Rows a response showed that are not its tenant's: another tenant id, or a name not starting with
 * the requesting tenant's id (the loads name every flow after its tenant).
 */
export function foreignRows(responses: TenantResponse[]): (FlowRow & { seenBy: string })[] {
  return responses.flatMap((r) =>
    r.rows.filter((row) => row.tenantId !== r.tenantId || !row.name.startsWith(r.tenantId)).map((row) => ({ ...row, seenBy: r.tenantId })),
  );
}

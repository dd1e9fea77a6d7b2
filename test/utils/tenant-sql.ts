import { Client } from 'pg';

/**
 * Raw-SQL access as the application would have it, for schema-level tests: a transaction that
 * switched to `role` and set `app.current_tenant_id` (when `tenantId` is given), rolled back at
 * the end unless `commit` is set.
 */
export async function asRole<T>(
  url: string,
  options: { role?: 'fdl_app' | 'fdl_system'; tenantId?: string | null; commit?: boolean },
  work: (client: Client) => Promise<T>,
): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SELECT set_config('role', $1, true)`, [options.role ?? 'fdl_app']);
    if (options.tenantId !== undefined && options.tenantId !== null) {
      await client.query(`SELECT set_config('app.current_tenant_id', $1, true)`, [options.tenantId]);
    }
    const result = await work(client);
    await client.query(options.commit ? 'COMMIT' : 'ROLLBACK');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    await client.end();
  }
}

export const asTenant = <T>(url: string, tenantId: string | null, work: (client: Client) => Promise<T>, commit = false) =>
  asRole(url, { role: 'fdl_app', tenantId, commit }, work);

export const asSystem = <T>(url: string, work: (client: Client) => Promise<T>, commit = true) =>
  asRole(url, { role: 'fdl_system', commit }, work);

/** A plain connection as the test server's login role (a superuser): no role switch, no tenant. */
export async function asSuperuser<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

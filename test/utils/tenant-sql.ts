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

/**
 * Inside a tenant transaction: tries to UPDATE and then DELETE `otherTenant`'s rows of `table`, each
 * under a savepoint; resolves to what each did (rows changed, or the SQLSTATE that refused it).
 */
export async function crossTenantWrites(client: Client, table: string, otherTenant: string): Promise<(number | string)[]> {
  const results: (number | string)[] = [];
  for (const sql of [`UPDATE ${table} SET tenant_id = tenant_id WHERE tenant_id = $1`, `DELETE FROM ${table} WHERE tenant_id = $1`]) {
    await client.query('SAVEPOINT cross_tenant');
    try {
      results.push((await client.query(sql, [otherTenant])).rowCount ?? -1);
    } catch (error) {
      results.push((error as { code: string }).code); // no grant at all (e.g. audit_logs): refused outright
    }
    await client.query('ROLLBACK TO SAVEPOINT cross_tenant');
  }
  return results;
}

/** An INSERT into `table` of a row for the tenant bound as $1, pointing at `other`'s flow and version. */
export function insertForTenant(table: string, other: { flow: string; version: string }): string {
  const statements: Record<string, string> = {
    flows: `INSERT INTO flows (tenant_id, name) VALUES ($1, 'intruder')`,
    flow_versions: `INSERT INTO flow_versions (tenant_id, flow_id, version, definition, content_hash) VALUES ($1, '${other.flow}', 9, '{}', repeat('b', 64))`,
    execution_snapshots: `INSERT INTO execution_snapshots (tenant_id, flow_id, flow_version_id) VALUES ($1, '${other.flow}', '${other.version}')`,
    execution_history: `INSERT INTO execution_history (id, tenant_id, flow_id, flow_version_id, status, input, state, version, created_at, completed_at) VALUES (gen_random_uuid(), $1, '${other.flow}', '${other.version}', 'failed', '{}', '{}', 1, now(), now())`,
    audit_logs: `INSERT INTO audit_logs (tenant_id, actor, action) VALUES ($1, 'intruder', 'forged')`,
  };
  return statements[table];
}

/** What {@link seedTenant} wrote for one tenant. */
export interface TenantSeed {
  tenant: string;
  flow: string;
  version: string;
  execution: string;
}

/** A tenant with one row in every tenant table, written on `client` (the system role's transaction). */
export async function seedTenant(client: Client, name: string): Promise<TenantSeed> {
  const tenant = (await client.query(`INSERT INTO tenants (name) VALUES ($1) RETURNING id`, [name])).rows[0].id;
  const flow = (await client.query(`INSERT INTO flows (tenant_id, name) VALUES ($1, 'f') RETURNING id`, [tenant])).rows[0].id;
  const version = (
    await client.query(
      `INSERT INTO flow_versions (tenant_id, flow_id, version, definition, content_hash) VALUES ($1, $2, 1, '{}', repeat('a', 64)) RETURNING id`,
      [tenant, flow],
    )
  ).rows[0].id;
  const execution = (
    await client.query(
      `INSERT INTO execution_snapshots (tenant_id, flow_id, flow_version_id, status) VALUES ($1, $2, $3, 'running') RETURNING id`,
      [tenant, flow, version],
    )
  ).rows[0].id;
  await client.query(
    `INSERT INTO execution_history (id, tenant_id, flow_id, flow_version_id, status, input, state, version, created_at, completed_at)
     VALUES (gen_random_uuid(), $1, $2, $3, 'completed', '{}', '{}', 2, now(), now())`,
    [tenant, flow, version],
  );
  await client.query(`INSERT INTO audit_logs (tenant_id, actor, action) VALUES ($1, 'seed', 'seeded')`, [tenant]);
  return { tenant, flow, version, execution };
}

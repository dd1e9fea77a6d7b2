import { asSystem } from './tenant-sql';

/** Creates tenants directly as the system role; returns their ids in order. */
export async function createTenants(url: string, names: string[], status: 'active' | 'suspended' = 'active'): Promise<string[]> {
  return asSystem(url, async (client) => {
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO tenants (name, status) SELECT unnest($1::text[]), $2 RETURNING id`,
      [names, status],
    );
    return rows.map((row) => row.id);
  });
}

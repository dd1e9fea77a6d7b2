import { seed } from '../bench-database';

export interface Dataset {
  tenants: string[];
  /** flows[i] belongs to tenants[i % tenants.length]. */
  flows: { id: string; tenantId: string }[];
  versions: { id: string; tenantId: string; flowId: string }[];
}

/** `tenantCount` tenants, each with `flowsPerTenant` flows of one version each. */
export async function seedDataset(url: string, tenantCount: number, flowsPerTenant: number): Promise<Dataset> {
  const tenants = (await seed(url, `INSERT INTO tenants (name) SELECT 'tenant-' || n FROM generate_series(1, $1) n RETURNING id`, [tenantCount])).map(
    (r) => r.id as string,
  );
  const flows = (await seed(
    url,
    `INSERT INTO flows (tenant_id, name)
     SELECT t.id, 'flow-' || n FROM unnest($1::uuid[]) t(id), generate_series(1, $2) n
     RETURNING id, tenant_id AS "tenantId"`,
    [tenants, flowsPerTenant],
  )) as { id: string; tenantId: string }[];
  const versions = (await seed(
    url,
    `INSERT INTO flow_versions (tenant_id, flow_id, version, definition, content_hash)
     SELECT tenant_id, id, 1, '{"steps": []}', encode(sha256(id::text::bytea), 'hex') FROM flows WHERE tenant_id = ANY($1::uuid[])
     RETURNING id, tenant_id AS "tenantId", flow_id AS "flowId"`,
    [tenants],
  )) as { id: string; tenantId: string; flowId: string }[];
  return { tenants, flows, versions };
}

/**
 * Inserts `count` execution snapshots, round-robin over `data`'s versions (one per tenant, so every
 * tenant gets the same share). `columns` maps further columns to SQL expressions, in which `n` is
 * the row's number (1 to count).
 *
 * The version ids come as a parameter, not from the table, which other groups (peer) also seed: an
 * aggregate over the table was inlined into every generated row, and at 51,000 versions its sorts
 * spilled tens of gigabytes to disk.
 */
export async function seedSnapshots(url: string, data: Dataset, count: number, columns: Record<string, string>): Promise<void> {
  const names = Object.keys(columns);
  await seed(
    url,
    `INSERT INTO execution_snapshots (tenant_id, flow_id, flow_version_id, ${names.join(', ')})
     SELECT v.tenant_id, v.flow_id, v.id, ${names.map((name) => columns[name]).join(', ')}
     FROM generate_series(1, $1) n
     JOIN flow_versions v ON v.id = ($2::uuid[])[1 + n % cardinality($2::uuid[])]`,
    [count, data.versions.map((version) => version.id)],
  );
}

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

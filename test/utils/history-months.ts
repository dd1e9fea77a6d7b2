import { randomUUID } from 'node:crypto';
import { asSuperuser, asSystem } from './tenant-sql';

/** The first instant of the month `offset` months from this one (UTC), as the partition functions count. */
export function monthStart(offset: number): Date {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1));
}

/** The partition `fdl_create_history_partitions()` makes for that month. */
export function month(offset: number): string {
  const start = monthStart(offset);
  return `execution_history_y${start.getUTCFullYear()}m${String(start.getUTCMonth() + 1).padStart(2, '0')}`;
}

export interface Seed {
  tenant: string;
  flow: string;
  version: string;
}

/** Two tenants with a flow and a version each, written by the system role through `url`. */
export function seedTenants(url: string): Promise<Seed[]> {
  return asSystem(url, async (c) => {
    const seeds: Seed[] = [];
    for (const name of ['a', 'b']) {
      const tenant = (await c.query(`INSERT INTO tenants (name) VALUES ($1) RETURNING id`, [name])).rows[0].id;
      const flow = (await c.query(`INSERT INTO flows (tenant_id, name) VALUES ($1, 'f') RETURNING id`, [tenant])).rows[0].id;
      const version = (
        await c.query(
          `INSERT INTO flow_versions (tenant_id, flow_id, version, definition, content_hash) VALUES ($1, $2, 1, '{}', repeat('a', 64)) RETURNING id`,
          [tenant, flow],
        )
      ).rows[0].id;
      seeds.push({ tenant, flow, version });
    }
    return seeds;
  });
}

/**
 * Archives, as the system role through `url`, `perTenant` executions of each tenant completed in month
 * `offset`; returns their ids. Rows of VALUES with ids made here: on Citus an INSERT … SELECT from a
 * function goes through the coordinator with COPY, which row level security refuses.
 */
export function archiveInMonth(url: string, seeds: Seed[], offset: number, perTenant = 2): Promise<string[]> {
  const completedAt = new Date(monthStart(offset).getTime() + 3 * 86_400_000);
  return asSystem(url, async (c) => {
    const ids: string[] = [];
    for (const { tenant, flow, version } of seeds) {
      for (let i = 0; i < perTenant; i++) {
        const { rows } = await c.query(
          `INSERT INTO execution_history (id, tenant_id, flow_id, flow_version_id, status, input, state, version, created_at, completed_at)
           VALUES ($1, $2, $3, $4, 'completed', '{}', '{}', 2, $5::timestamptz - interval '1 hour', $5) RETURNING id`,
          [randomUUID(), tenant, flow, version, completedAt],
        );
        ids.push(rows[0].id as string);
      }
    }
    return ids;
  });
}

/**
 * Where each archived execution is stored (partition name by id), as the superuser sees it. On Citus
 * the row comes from a shard (`execution_history_default_102025`): named by its table.
 */
export const placement = (url: string) =>
  asSuperuser(url, async (c) =>
    Object.fromEntries(
      (await c.query(`SELECT id, regexp_replace(tableoid::regclass::text, '_[0-9]+$', '') AS partition FROM execution_history`)).rows.map((row) => [row.id, row.partition]),
    ),
  );

export const partitionNames = (url: string) =>
  asSuperuser(url, async (c) =>
    (await c.query(`SELECT inhrelid::regclass::text AS name FROM pg_inherits WHERE inhparent = 'execution_history'::regclass ORDER BY 1`)).rows.map(
      (row) => row.name as string,
    ),
  );

export const expectedPlacement = (ids: string[], partition: string) => Object.fromEntries(ids.map((id) => [id, partition]));

import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { ClusterTopology } from '../cluster/cluster-topology';
import { FlowVersion } from '../entities';
import { routingTenantOf } from '../transaction/routing-tenant';
import { TenantContext } from '../tenant-context/tenant-context';
import { auditedWrite } from './audited-write';
import { contentHash } from './canonical-json';
import { NotFoundInTenantError, WriteNotStoredError } from './lifecycle.errors';
import { isUniqueViolation } from '../cluster/unique-violation';
import { selectList, toEntity } from './select-list';

/** What {@link FlowVersionsService.publish} did. */
export interface PublishResult {
  version: FlowVersion;
  /** False when an identical definition was already a version of this flow (it is returned instead). */
  created: boolean;
}

/** Publishes immutable, gap-free numbered versions of a flow's definition. */
@Injectable()
export class FlowVersionsService {
  /** The columns, qualified by the alias its statements give flow_versions. */
  private readonly columnsOfN: string;

  constructor(
    private readonly context: TenantContext,
    private readonly topology: ClusterTopology,
    dataSource: DataSource,
  ) {
    this.columnsOfN = selectList(dataSource, FlowVersion, 'n');
  }

  /**
   * Makes `definition` the flow's current version. A definition already published for this flow
   * (same canonical content hash) is not stored again: that version is returned and made current.
   * Otherwise the next number is taken under a lock on the flow row, so concurrent publishes of one
   * flow get 1, 2, 3… with no gap and no duplicate.
   */
  async publish(flowId: string, definition: unknown): Promise<PublishResult> {
    const transaction = this.context.require('FlowVersionsService.publish');
    const manager = transaction.manager;
    const hash = contentHash(definition);
    // Citus locks rows (FOR UPDATE) only in a query it can route to one shard: the system path,
    // which names no tenant, looks up the flow's first; and a join, not a correlated subquery.
    const tenant = routingTenantOf(transaction) ?? (await tenantOfFlow(manager, flowId));
    if (!tenant) throw new NotFoundInTenantError('flow');
    const [flow] = await manager.query(
      `SELECT f.tenant_id AS "tenantId", v.id AS "existingId"
       FROM flows f
       LEFT JOIN flow_versions v ON v.tenant_id = f.tenant_id AND v.flow_id = f.id AND v.content_hash = $2
       WHERE f.id = $1 AND f.tenant_id = $3
       ORDER BY v.version DESC
       LIMIT 1
       FOR UPDATE OF f`,
      [flowId, hash, tenant],
    );
    if (!flow) throw new NotFoundInTenantError('flow');

    // A new statement, so a new snapshot: it sees versions committed while we waited for the lock.
    // The id is made here so that making it current and the audit entry need not read the insert
    // back (on Citus they are statements of their own); the grouped join rather than max() over
    // flow_versions alone because Citus sends only that form of INSERT … SELECT to the one shard.
    const id: string = flow.existingId ?? randomUUID();
    const created = flow.existingId === null;
    const [row] = await auditedWrite(manager, this.topology, {
      write: created
        ? {
            text: `INSERT INTO flow_versions AS n (id, tenant_id, flow_id, version, definition, content_hash)
                   SELECT $3, f.tenant_id, f.id, coalesce(max(v.version), 0) + 1, $4, $5
                   FROM flows f LEFT JOIN flow_versions v ON v.tenant_id = f.tenant_id AND v.flow_id = f.id
                   WHERE f.tenant_id = $1 AND f.id = $2
                   GROUP BY f.tenant_id, f.id
                   RETURNING ${this.columnsOfN}`,
            values: [flow.tenantId, flowId, id, JSON.stringify(definition), hash],
          }
        : {
            text: `SELECT ${this.columnsOfN} FROM flow_versions n WHERE n.tenant_id = $1 AND n.flow_id = $2 AND n.id = $3`,
            values: [flow.tenantId, flowId, id],
          },
      alsoWrite: {
        text: `UPDATE flows SET current_version_id = $3, updated_at = now()
               WHERE tenant_id = $1 AND id = $2 AND current_version_id IS DISTINCT FROM $3::uuid`,
        values: [flow.tenantId, flowId, id],
      },
      audit: {
        action: 'flow.version_published',
        targetType: 'flow',
        tenantColumn: 'tenantId',
        targetColumn: 'flowId',
        details: (row) => `jsonb_build_object('version', ${row('version', 'int')}, 'contentHash', ${row('contentHash', 'text')}, 'created', ${created})`,
      },
    }).catch((error: unknown) => {
      // The flow is locked, so the next number is free: a duplicate means the lock did not hold (on
      // Citus, the tenant's shard moved between the lock and the insert). Nothing was stored.
      throw isUniqueViolation(error, 'UQ_flow_versions_tenant_flow_version') ? new WriteNotStoredError('the flow version') : error;
    });
    // The flow is locked, so its version must be there: never answer for a write that stored nothing.
    if (!row) throw new WriteNotStoredError('the flow version');
    return { version: toEntity(FlowVersion, row), created };
  }
}

async function tenantOfFlow(manager: EntityManager, flowId: string): Promise<string | undefined> {
  const [row] = await manager.query(`SELECT tenant_id FROM flows WHERE id = $1`, [flowId]);
  return row?.tenant_id;
}

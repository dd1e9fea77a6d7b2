import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { actorOf } from '../audit/audit-trail.service';
import { FlowVersion } from '../entities';
import { routingTenantOf, tenantIs } from '../tenancy/routing-tenant';
import { TenantContext } from '../tenancy/tenant-context';
import { contentHash } from './canonical-json';
import { NotFoundInTenantError } from './lifecycle.errors';
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
  private readonly columns: string;

  constructor(
    private readonly context: TenantContext,
    dataSource: DataSource,
  ) {
    this.columns = selectList(dataSource, FlowVersion);
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
    // A join rather than a subquery in the select list: Citus locks rows (FOR UPDATE) only in a
    // query it can route to one shard, which a correlated subquery is not.
    const [flow] = await manager.query(
      `SELECT f.tenant_id AS "tenantId", v.id AS "existingId"
       FROM flows f
       LEFT JOIN flow_versions v ON v.tenant_id = f.tenant_id AND v.flow_id = f.id AND v.content_hash = $2
       WHERE f.id = $1 AND ${tenantIs('$3', 'f')}
       ORDER BY v.version DESC
       LIMIT 1
       FOR UPDATE OF f`,
      [flowId, hash, routingTenantOf(transaction)],
    );
    if (!flow) throw new NotFoundInTenantError('flow');

    // A new statement, so a new snapshot: it sees versions committed while we waited for the lock.
    const [row] = await manager.query(
      `WITH published AS (
         INSERT INTO flow_versions (tenant_id, flow_id, version, definition, content_hash)
         SELECT $1, $2, coalesce(max(version), 0) + 1, $3, $4
         FROM flow_versions WHERE tenant_id = $1 AND flow_id = $2
         HAVING $5::uuid IS NULL
         RETURNING *
       ),
       chosen AS (
         SELECT * FROM published
         UNION ALL
         SELECT * FROM flow_versions WHERE tenant_id = $1 AND id = $5::uuid
       ),
       made_current AS (
         UPDATE flows SET current_version_id = (SELECT id FROM chosen), updated_at = now()
         WHERE tenant_id = $1 AND id = $2 AND current_version_id IS DISTINCT FROM (SELECT id FROM chosen)
       ),
       audited AS (
         INSERT INTO audit_logs (tenant_id, actor, action, target_type, target_id, details)
         SELECT $1, $6, 'flow.version_published', 'flow', $2::text,
                jsonb_build_object('version', version, 'contentHash', content_hash, 'created', $5::uuid IS NULL)
         FROM chosen
       )
       SELECT ${this.columns} FROM chosen`,
      [flow.tenantId, flowId, JSON.stringify(definition), hash, flow.existingId, actorOf(transaction)],
    );
    return { version: toEntity(FlowVersion, row), created: flow.existingId === null };
  }
}

import { Check, Column, CreateDateColumn, Entity, ForeignKey, PrimaryColumn, PrimaryGeneratedColumn, Unique } from 'typeorm';
import { Flow } from './flow.entity';

/** One immutable version of a flow's definition; the database refuses any UPDATE of it. */
@Entity({ name: 'flow_versions' })
@Unique('UQ_flow_versions_tenant_flow_id', ['tenantId', 'flowId', 'id'])
@Unique('UQ_flow_versions_tenant_flow_version', ['tenantId', 'flowId', 'version'])
@Check('CHK_flow_versions_version', 'version > 0')
@Check('CHK_flow_versions_content_hash', "content_hash ~ '^[0-9a-f]{64}$'")
@ForeignKey(() => Flow, ['tenantId', 'flowId'], ['tenantId', 'id'], {
  name: 'FK_flow_versions_flow',
  // A flow with versions cannot be deleted: its history stays (migration 013).
  onDelete: 'RESTRICT',
})
export class FlowVersion {
  /** Leads the primary key: keys include the tenant (composite references; Citus shards by it). */
  @PrimaryColumn({ name: 'tenant_id', type: 'uuid', primaryKeyConstraintName: 'PK_flow_versions' })
  tenantId!: string;

  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'PK_flow_versions' })
  id!: string;

  @Column({ name: 'flow_id', type: 'uuid' })
  flowId!: string;

  @Column({ type: 'integer' })
  version!: number;

  @Column({ type: 'jsonb' })
  definition!: unknown;

  /** sha256 (hex) of the definition's canonical JSON form. */
  @Column({ name: 'content_hash', type: 'text' })
  contentHash!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}

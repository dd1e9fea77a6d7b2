import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, Unique } from 'typeorm';

/** One immutable version of a flow's definition; the database refuses any UPDATE of it. */
@Entity({ name: 'flow_versions' })
@Unique('UQ_flow_versions_tenant_id', ['tenantId', 'id'])
@Unique('UQ_flow_versions_tenant_flow_id', ['tenantId', 'flowId', 'id'])
@Unique('UQ_flow_versions_tenant_flow_version', ['tenantId', 'flowId', 'version'])
export class FlowVersion {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'PK_flow_versions' })
  id!: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId!: string;

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

import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, Unique, UpdateDateColumn } from 'typeorm';

/** A flow definition registered by a tenant; its content lives in immutable {@link FlowVersion}s. */
@Entity({ name: 'flows' })
@Unique('UQ_flows_tenant_id', ['tenantId', 'id'])
@Unique('UQ_flows_tenant_name', ['tenantId', 'name'])
export class Flow {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'PK_flows' })
  id!: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId!: string;

  @Column({ type: 'text' })
  name!: string;

  @Column({ type: 'text', nullable: true })
  description!: string | null;

  @Column({ name: 'current_version_id', type: 'uuid', nullable: true })
  currentVersionId!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}

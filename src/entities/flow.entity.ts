import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  ForeignKey,
  PrimaryColumn,
  PrimaryGeneratedColumn,
  Unique,
  UpdateDateColumn,
} from 'typeorm';
import { FlowVersion } from './flow-version.entity';
import { Tenant } from './tenant.entity';

/** A flow definition registered by a tenant; its content lives in immutable {@link FlowVersion}s. */
@Entity({ name: 'flows' })
@Unique('UQ_flows_tenant_name', ['tenantId', 'name'])
@Check('CHK_flows_name', 'length(btrim(name)) BETWEEN 1 AND 200')
@ForeignKey(() => Tenant, ['tenantId'], ['id'], { name: 'FK_flows_tenant', onDelete: 'CASCADE' })
@ForeignKey(() => FlowVersion, ['tenantId', 'id', 'currentVersionId'], ['tenantId', 'flowId', 'id'], {
  name: 'FK_flows_current_version',
})
export class Flow {
  /** Leads the primary key: keys include the tenant (composite references; Citus shards by it). */
  @PrimaryColumn({ name: 'tenant_id', type: 'uuid', primaryKeyConstraintName: 'PK_flows' })
  tenantId!: string;

  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'PK_flows' })
  id!: string;

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

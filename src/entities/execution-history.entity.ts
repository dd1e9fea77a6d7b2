import { Check, Column, Entity, ForeignKey, Index, PrimaryColumn } from 'typeorm';
import { FlowVersion } from './flow-version.entity';
import type { FinishedExecutionStatus } from './execution-snapshot.entity';

/** A finished execution moved out of `execution_snapshots`; partitioned by month of `completed_at`. */
@Entity({ name: 'execution_history' })
// Also serves the cascade from a deleted flow version: (tenant_id, flow_id) alone filtered row by row.
@Index('IDX_execution_history_tenant_flow_version', ['tenantId', 'flowId', 'flowVersionId'])
// (tenant_id, completed_at DESC): @Index has no sort order, so this one is left to the migrations.
@Index('IDX_execution_history_tenant_completed', { synchronize: false })
@Check('CHK_execution_history_status', "status IN ('completed', 'failed', 'cancelled')")
@ForeignKey(() => FlowVersion, ['tenantId', 'flowId', 'flowVersionId'], ['tenantId', 'flowId', 'id'], {
  name: 'FK_execution_history_flow_version',
  onDelete: 'CASCADE',
})
export class ExecutionHistory {
  @PrimaryColumn({ name: 'tenant_id', type: 'uuid', primaryKeyConstraintName: 'PK_execution_history' })
  tenantId!: string;

  @PrimaryColumn({ type: 'uuid', primaryKeyConstraintName: 'PK_execution_history' })
  id!: string;

  @PrimaryColumn({ name: 'completed_at', type: 'timestamptz', primaryKeyConstraintName: 'PK_execution_history' })
  completedAt!: Date;

  @Column({ name: 'flow_id', type: 'uuid' })
  flowId!: string;

  @Column({ name: 'flow_version_id', type: 'uuid' })
  flowVersionId!: string;

  @Column({ type: 'text' })
  status!: FinishedExecutionStatus;

  @Column({ type: 'jsonb' })
  input!: unknown;

  @Column({ type: 'jsonb' })
  state!: unknown;

  @Column({ type: 'jsonb', nullable: true })
  output!: unknown;

  @Column({ type: 'jsonb', nullable: true })
  error!: unknown;

  @Column({ type: 'integer' })
  version!: number;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'archived_at', type: 'timestamptz', default: () => 'now()' })
  archivedAt!: Date;
}

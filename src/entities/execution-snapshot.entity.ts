import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  ForeignKey,
  Index,
  PrimaryColumn,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import { FlowVersion } from './flow-version.entity';

export type ExecutionStatus = 'pending' | 'running' | 'paused' | 'completed' | 'failed' | 'cancelled';
export type FinishedExecutionStatus = Extract<ExecutionStatus, 'completed' | 'failed' | 'cancelled'>;

/**
 * The live state of one execution. `version` is its optimistic lock: the database requires every
 * UPDATE to raise it by exactly one (TypeORM's `save()` does not check it; write the version-checked
 * UPDATE explicitly).
 */
@Entity({ name: 'execution_snapshots' })
// Also serves the cascade from a deleted flow version: (tenant_id, flow_id) alone filtered row by row.
@Index('IDX_execution_snapshots_tenant_flow_version', ['tenantId', 'flowId', 'flowVersionId'])
@Index('IDX_execution_snapshots_tenant_finished', ['tenantId', 'finishedAt'], { where: 'finished_at IS NOT NULL' })
// (tenant_id, created_at DESC, id DESC) and (tenant_id, status, created_at DESC, id DESC): @Index has
// no sort order, so these are left to the migrations.
@Index('IDX_execution_snapshots_tenant_created', { synchronize: false })
@Index('IDX_execution_snapshots_tenant_status', { synchronize: false })
@Check(
  'CHK_execution_snapshots_status',
  "status IN ('pending', 'running', 'paused', 'completed', 'failed', 'cancelled')",
)
@Check(
  'CHK_execution_snapshots_finished_at',
  "(status IN ('completed', 'failed', 'cancelled')) = (finished_at IS NOT NULL)",
)
@Check('CHK_execution_snapshots_version', 'version > 0')
@ForeignKey(() => FlowVersion, ['tenantId', 'flowId', 'flowVersionId'], ['tenantId', 'flowId', 'id'], {
  name: 'FK_execution_snapshots_flow_version',
  onDelete: 'CASCADE',
})
export class ExecutionSnapshot {
  /** Leads the primary key: keys include the tenant (composite references; Citus shards by it). */
  @PrimaryColumn({ name: 'tenant_id', type: 'uuid', primaryKeyConstraintName: 'PK_execution_snapshots' })
  tenantId!: string;

  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'PK_execution_snapshots' })
  id!: string;

  @Column({ name: 'flow_id', type: 'uuid' })
  flowId!: string;

  @Column({ name: 'flow_version_id', type: 'uuid' })
  flowVersionId!: string;

  @Column({ type: 'text', default: 'pending' })
  status!: ExecutionStatus;

  @Column({ type: 'jsonb', default: {} })
  input!: unknown;

  @Column({ type: 'jsonb', default: {} })
  state!: unknown;

  @Column({ type: 'jsonb', nullable: true })
  output!: unknown;

  @Column({ type: 'jsonb', nullable: true })
  error!: unknown;

  @Column({ type: 'integer', default: 1 })
  version!: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;

  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true })
  finishedAt!: Date | null;
}

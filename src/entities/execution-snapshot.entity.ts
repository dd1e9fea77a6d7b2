import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, Unique, UpdateDateColumn } from 'typeorm';

export type ExecutionStatus = 'pending' | 'running' | 'paused' | 'completed' | 'failed' | 'cancelled';
export type FinishedExecutionStatus = Extract<ExecutionStatus, 'completed' | 'failed' | 'cancelled'>;

/**
 * The live state of one execution. `version` is its optimistic lock: the database requires every
 * UPDATE to raise it by exactly one (TypeORM's `save()` does not check it; write the version-checked
 * UPDATE explicitly).
 */
@Entity({ name: 'execution_snapshots' })
@Unique('UQ_execution_snapshots_tenant_id', ['tenantId', 'id'])
@Index('IDX_execution_snapshots_tenant_flow', ['tenantId', 'flowId'])
export class ExecutionSnapshot {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'PK_execution_snapshots' })
  id!: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId!: string;

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

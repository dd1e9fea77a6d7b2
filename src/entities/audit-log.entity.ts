import { Check, Column, CreateDateColumn, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
import type { SYSTEM_TENANT_ID } from '../tenancy/tenant-policy';

/**
 * One entry of the append-only, hash-chained audit trail; `tenantId` is {@link SYSTEM_TENANT_ID}
 * for the system's own entries.
 * Write entries through {@link AuditTrail} so they join the caller's transaction.
 */
@Entity({ name: 'audit_logs' })
@Check('CHK_audit_logs_actor', 'length(actor) BETWEEN 1 AND 200')
@Check('CHK_audit_logs_action', 'length(action) BETWEEN 1 AND 200')
@Check('CHK_audit_logs_chained', 'chain_position >= 1 AND hash IS NOT NULL AND (previous_hash IS NULL) = (chain_position = 1)')
// (tenant_id, created_at DESC): @Index has no sort order, so this one is left to the migrations.
@Index('IDX_audit_logs_tenant_created', { synchronize: false })
@Index('UQ_audit_logs_tenant_chain_position', ['tenantId', 'chainPosition'], { unique: true })
export class AuditLog {
  @PrimaryColumn({ name: 'tenant_id', type: 'uuid', primaryKeyConstraintName: 'PK_audit_logs' })
  tenantId!: string;

  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'PK_audit_logs' })
  id!: string;

  @Column({ type: 'text' })
  actor!: string;

  @Column({ type: 'text' })
  action!: string;

  @Column({ name: 'target_type', type: 'text', nullable: true })
  targetType!: string | null;

  @Column({ name: 'target_id', type: 'text', nullable: true })
  targetId!: string | null;

  @Column({ type: 'jsonb', default: {} })
  details!: Record<string, unknown>;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  /** Position in its chain (the tenant's, or the system's); set by the database on INSERT. */
  @Column({ name: 'chain_position', type: 'bigint', nullable: true, insert: false, update: false })
  chainPosition!: string | null;

  /** Hash of the previous entry of the same chain; null for the first. Set by the database. */
  @Column({ name: 'previous_hash', type: 'text', nullable: true, insert: false, update: false })
  previousHash!: string | null;

  /** sha256 over this entry's canonical form, including `previousHash`. Set by the database. */
  @Column({ type: 'text', nullable: true, insert: false, update: false })
  hash!: string | null;
}

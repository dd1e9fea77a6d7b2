import { Check, Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

export type TenantStatus = 'active' | 'suspended';

/** A customer of the runtime. A tenant sees only its own row; creating one is system work. */
@Entity({ name: 'tenants' })
// The nil UUID is SYSTEM_TENANT_ID, the system's own audit chain: no tenant may have it.
@Check('CHK_tenants_id', "id <> '00000000-0000-0000-0000-000000000000'")
@Check('CHK_tenants_name', 'length(btrim(name)) BETWEEN 1 AND 200')
@Check('CHK_tenants_status', "status IN ('active', 'suspended')")
export class Tenant {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'PK_tenants' })
  id!: string;

  @Column({ type: 'text' })
  name!: string;

  @Column({ type: 'text', default: 'active' })
  status!: TenantStatus;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}

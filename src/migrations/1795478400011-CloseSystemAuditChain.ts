import { MigrationInterface, QueryRunner } from 'typeorm';
import { SYSTEM_TENANT_ID, tenantPolicyExpression } from '../tenancy/tenant-policy';
import { boundMigrationWaits } from './migration-timeouts';

const SYSTEM_CHAIN_EXCLUDED = `${tenantPolicyExpression()} AND tenant_id <> '${SYSTEM_TENANT_ID}'::uuid`;

/**
 * The system's audit chain is kept under SYSTEM_TENANT_ID, which no tenant can have. But the tenant
 * setting is an ordinary setting: SQL run in a tenant transaction could set it to that id and, under
 * the tenant policy, read every `tenant.created` entry (all tenants' ids and names) and append
 * "system" entries. `fdl_app`'s policy now excludes that id outright; only `fdl_system` reaches it.
 */
export class CloseSystemAuditChain1795478400011 implements MigrationInterface {
  name = 'CloseSystemAuditChain1795478400011';

  async up(queryRunner: QueryRunner): Promise<void> {
    await boundMigrationWaits(queryRunner);
    await queryRunner.query(`ALTER POLICY audit_logs_tenant_isolation ON audit_logs USING (${SYSTEM_CHAIN_EXCLUDED}) WITH CHECK (${SYSTEM_CHAIN_EXCLUDED})`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await boundMigrationWaits(queryRunner);
    await queryRunner.query(`ALTER POLICY audit_logs_tenant_isolation ON audit_logs USING (${tenantPolicyExpression()}) WITH CHECK (${tenantPolicyExpression()})`);
  }
}

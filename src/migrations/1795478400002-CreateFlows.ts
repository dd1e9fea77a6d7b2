import { MigrationInterface, QueryRunner } from 'typeorm';
import { tenantPolicyExpression } from '../tenancy/tenant-policy';
import { boundMigrationWaits } from './migration-timeouts';

/**
 * The flow definitions registry. Like every tenant table, its keys lead with `tenant_id`: children
 * reference a flow by `(tenant_id, id)` (foreign-key checks bypass RLS, so only a composite key makes
 * a reference to another tenant's flow impossible), and Citus, which shards by `tenant_id`, requires
 * the distribution column in every primary key and unique constraint.
 */
export class CreateFlows1795478400002 implements MigrationInterface {
  name = 'CreateFlows1795478400002';

  async up(queryRunner: QueryRunner): Promise<void> {
    await boundMigrationWaits(queryRunner);
    await queryRunner.query(`
      CREATE TABLE flows (
        id                  uuid        NOT NULL DEFAULT gen_random_uuid(),
        tenant_id           uuid        NOT NULL,
        name                text        NOT NULL,
        description         text,
        current_version_id  uuid,
        created_at          timestamptz NOT NULL DEFAULT now(),
        updated_at          timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT "PK_flows" PRIMARY KEY (tenant_id, id),
        CONSTRAINT "UQ_flows_tenant_name" UNIQUE (tenant_id, name),
        CONSTRAINT "CHK_flows_name" CHECK (length(btrim(name)) BETWEEN 1 AND 200),
        CONSTRAINT "FK_flows_tenant" FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
      )`);

    await queryRunner.query(`ALTER TABLE flows ENABLE ROW LEVEL SECURITY`);
    await queryRunner.query(`ALTER TABLE flows FORCE ROW LEVEL SECURITY`);
    await queryRunner.query(`
      CREATE POLICY flows_tenant_isolation ON flows
        FOR ALL TO fdl_app
        USING (${tenantPolicyExpression()})
        WITH CHECK (${tenantPolicyExpression()})`);
    await queryRunner.query(`
      CREATE POLICY flows_system_access ON flows
        FOR ALL TO fdl_system
        USING (true) WITH CHECK (true)`);
    await queryRunner.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON flows TO fdl_app, fdl_system`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE flows`);
  }
}

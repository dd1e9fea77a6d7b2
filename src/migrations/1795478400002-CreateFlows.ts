import { MigrationInterface, QueryRunner } from 'typeorm';
import { boundMigrationWaits } from './migration-timeouts';

/**
 * The flow definitions registry. `UQ_flows_tenant_id` exists so that children can reference a flow
 * by `(tenant_id, id)`: foreign-key checks bypass RLS, so only a composite key makes a reference
 * to another tenant's flow impossible.
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
        CONSTRAINT "PK_flows" PRIMARY KEY (id),
        CONSTRAINT "UQ_flows_tenant_id" UNIQUE (tenant_id, id),
        CONSTRAINT "UQ_flows_tenant_name" UNIQUE (tenant_id, name),
        CONSTRAINT "CHK_flows_name" CHECK (length(btrim(name)) BETWEEN 1 AND 200),
        CONSTRAINT "FK_flows_tenant" FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
      )`);

    await queryRunner.query(`ALTER TABLE flows ENABLE ROW LEVEL SECURITY`);
    await queryRunner.query(`ALTER TABLE flows FORCE ROW LEVEL SECURITY`);
    await queryRunner.query(`
      CREATE POLICY flows_tenant_isolation ON flows
        FOR ALL TO fdl_app
        USING (tenant_id = (SELECT NULLIF(current_setting('app.current_tenant_id', true), '')::uuid))
        WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.current_tenant_id', true), '')::uuid))`);
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

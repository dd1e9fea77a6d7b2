import { MigrationInterface, QueryRunner } from 'typeorm';
import { tenantPolicyExpression } from '../tenancy/tenant-policy';
import { boundMigrationWaits } from './migration-timeouts';

/**
 * Version history of each flow: numbered per flow, immutable once written (a changed definition is
 * a new version), with a sha256 of the definition's canonical form. A flow's `current_version_id`
 * may only name one of its own versions, enforced by `(tenant_id, id, current_version_id)`.
 */
export class CreateFlowVersions1795478400003 implements MigrationInterface {
  name = 'CreateFlowVersions1795478400003';

  async up(queryRunner: QueryRunner): Promise<void> {
    await boundMigrationWaits(queryRunner);
    await queryRunner.query(`
      CREATE TABLE flow_versions (
        id            uuid        NOT NULL DEFAULT gen_random_uuid(),
        tenant_id     uuid        NOT NULL,
        flow_id       uuid        NOT NULL,
        version       integer     NOT NULL,
        definition    jsonb       NOT NULL,
        content_hash  text        NOT NULL,
        created_at    timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT "PK_flow_versions" PRIMARY KEY (tenant_id, id),
        CONSTRAINT "UQ_flow_versions_tenant_flow_id" UNIQUE (tenant_id, flow_id, id),
        CONSTRAINT "UQ_flow_versions_tenant_flow_version" UNIQUE (tenant_id, flow_id, version),
        CONSTRAINT "CHK_flow_versions_version" CHECK (version > 0),
        CONSTRAINT "CHK_flow_versions_content_hash" CHECK (content_hash ~ '^[0-9a-f]{64}$'),
        CONSTRAINT "FK_flow_versions_flow" FOREIGN KEY (tenant_id, flow_id)
          REFERENCES flows (tenant_id, id) ON DELETE CASCADE
      )`);

    // flows was created by the previous migration, in the same transaction when they run together:
    // nothing to scan, nobody to block. (On a populated table: NOT VALID, then VALIDATE apart.)
    await queryRunner.query(`
      ALTER TABLE flows
        -- squawk-ignore constraint-missing-not-valid, adding-foreign-key-constraint
        ADD CONSTRAINT "FK_flows_current_version" FOREIGN KEY (tenant_id, id, current_version_id)
          REFERENCES flow_versions (tenant_id, flow_id, id)`);

    // Immutability is the database's rule, not the application's: it holds for every role.
    await queryRunner.query(`
      CREATE FUNCTION flow_versions_refuse_update() RETURNS trigger
        LANGUAGE plpgsql
        SET search_path = pg_catalog, pg_temp
      AS $$
      BEGIN
        RAISE EXCEPTION 'flow versions are immutable: publish a new version instead'
          USING ERRCODE = 'integrity_constraint_violation';
      END
      $$`);
    await queryRunner.query(`REVOKE ALL ON FUNCTION flow_versions_refuse_update() FROM PUBLIC`);
    await queryRunner.query(`
      CREATE TRIGGER flow_versions_immutable
        BEFORE UPDATE ON flow_versions
        FOR EACH ROW EXECUTE FUNCTION flow_versions_refuse_update()`);

    await queryRunner.query(`ALTER TABLE flow_versions ENABLE ROW LEVEL SECURITY`);
    await queryRunner.query(`ALTER TABLE flow_versions FORCE ROW LEVEL SECURITY`);
    await queryRunner.query(`
      CREATE POLICY flow_versions_tenant_isolation ON flow_versions
        FOR ALL TO fdl_app
        USING (${tenantPolicyExpression()})
        WITH CHECK (${tenantPolicyExpression()})`);
    await queryRunner.query(`
      CREATE POLICY flow_versions_system_access ON flow_versions
        FOR ALL TO fdl_system
        USING (true) WITH CHECK (true)`);
    await queryRunner.query(`GRANT SELECT, INSERT ON flow_versions TO fdl_app`);
    await queryRunner.query(`GRANT SELECT, INSERT, DELETE ON flow_versions TO fdl_system`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE flows DROP CONSTRAINT "FK_flows_current_version"`);
    await queryRunner.query(`DROP TABLE flow_versions`);
    await queryRunner.query(`DROP FUNCTION flow_versions_refuse_update()`);
  }
}

import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The security audit trail. Cross-tenant: a system entry has no tenant. Append-only for every role,
 * the owner included: no UPDATE/DELETE/TRUNCATE grant to the application roles, and triggers that
 * refuse those statements to whoever runs them. There is deliberately no foreign key to `tenants`:
 * the trail must outlive the tenant it describes.
 */
export class CreateAuditLogs1795478400006 implements MigrationInterface {
  name = 'CreateAuditLogs1795478400006';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE audit_logs (
        id           uuid        NOT NULL DEFAULT gen_random_uuid(),
        tenant_id    uuid,
        actor        text        NOT NULL,
        action       text        NOT NULL,
        target_type  text,
        target_id    text,
        details      jsonb       NOT NULL DEFAULT '{}',
        created_at   timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT "PK_audit_logs" PRIMARY KEY (id),
        CONSTRAINT "CHK_audit_logs_actor" CHECK (length(actor) BETWEEN 1 AND 200),
        CONSTRAINT "CHK_audit_logs_action" CHECK (length(action) BETWEEN 1 AND 200)
      )`);
    await queryRunner.query(`
      CREATE INDEX "IDX_audit_logs_tenant_created"
        ON audit_logs (tenant_id, created_at DESC)`);

    await queryRunner.query(`
      CREATE FUNCTION audit_logs_refuse_change() RETURNS trigger
        LANGUAGE plpgsql
        SET search_path = pg_catalog
      AS $$
      BEGIN
        RAISE EXCEPTION 'audit_logs is append-only: % is not allowed', TG_OP
          USING ERRCODE = 'insufficient_privilege';
      END
      $$`);
    await queryRunner.query(`REVOKE ALL ON FUNCTION audit_logs_refuse_change() FROM PUBLIC`);
    await queryRunner.query(`
      CREATE TRIGGER audit_logs_append_only
        BEFORE UPDATE OR DELETE ON audit_logs
        FOR EACH ROW EXECUTE FUNCTION audit_logs_refuse_change()`);
    await queryRunner.query(`
      CREATE TRIGGER audit_logs_no_truncate
        BEFORE TRUNCATE ON audit_logs
        FOR EACH STATEMENT EXECUTE FUNCTION audit_logs_refuse_change()`);

    await queryRunner.query(`ALTER TABLE audit_logs ENABLE ROW LEVEL SECURITY`);
    await queryRunner.query(`ALTER TABLE audit_logs FORCE ROW LEVEL SECURITY`);
    await queryRunner.query(`
      CREATE POLICY audit_logs_tenant_isolation ON audit_logs
        FOR ALL TO fdl_app
        USING (tenant_id = (SELECT NULLIF(current_setting('app.current_tenant_id', true), '')::uuid))
        WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.current_tenant_id', true), '')::uuid))`);
    await queryRunner.query(`
      CREATE POLICY audit_logs_system_access ON audit_logs
        FOR ALL TO fdl_system
        USING (true) WITH CHECK (true)`);
    await queryRunner.query(`GRANT SELECT, INSERT ON audit_logs TO fdl_app, fdl_system`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE audit_logs`);
    await queryRunner.query(`DROP FUNCTION audit_logs_refuse_change()`);
  }
}

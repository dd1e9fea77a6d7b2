import { MigrationInterface, QueryRunner } from 'typeorm';
import { tenantPolicyExpression } from '../tenancy/tenant-policy';
import { boundMigrationWaits } from './migration-timeouts';

/**
 * Archived executions, partitioned by month of completion so that retention drops whole partitions
 * instead of deleting rows. The default partition catches any row whose month has no partition yet,
 * so an archival insert never fails for want of one.
 *
 * Policies and grants live on the parent only: a query through the parent is checked against the
 * parent's policies, and a partition addressed directly is refused (no grant; RLS forced, no policy).
 */
export class CreateExecutionHistory1795478400005 implements MigrationInterface {
  name = 'CreateExecutionHistory1795478400005';

  async up(queryRunner: QueryRunner): Promise<void> {
    await boundMigrationWaits(queryRunner);
    await queryRunner.query(`
      CREATE TABLE execution_history (
        id               uuid        NOT NULL,
        tenant_id        uuid        NOT NULL,
        flow_id          uuid        NOT NULL,
        flow_version_id  uuid        NOT NULL,
        status           text        NOT NULL,
        input            jsonb       NOT NULL,
        state            jsonb       NOT NULL,
        output           jsonb,
        error            jsonb,
        version          integer     NOT NULL,
        created_at       timestamptz NOT NULL,
        completed_at     timestamptz NOT NULL,
        archived_at      timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT "PK_execution_history" PRIMARY KEY (tenant_id, id, completed_at),
        CONSTRAINT "CHK_execution_history_status" CHECK (status IN ('completed', 'failed', 'cancelled')),
        CONSTRAINT "FK_execution_history_flow_version" FOREIGN KEY (tenant_id, flow_id, flow_version_id)
          REFERENCES flow_versions (tenant_id, flow_id, id) ON DELETE CASCADE
      ) PARTITION BY RANGE (completed_at)`);
    await queryRunner.query(`
      CREATE INDEX "IDX_execution_history_tenant_completed"
        ON execution_history (tenant_id, completed_at DESC)`);
    // Serves lookups by flow and the cascade from a deleted flow version, which with (tenant_id,
    // flow_id) alone filtered every execution of the flow: 40 ms → 4.4 ms per version deleted
    // with 1,000 of 200,000 executions each in snapshots and history.
    await queryRunner.query(`
      CREATE INDEX "IDX_execution_history_tenant_flow_version"
        ON execution_history (tenant_id, flow_id, flow_version_id)`);
    await queryRunner.query(`CREATE TABLE execution_history_default PARTITION OF execution_history DEFAULT`);

    await queryRunner.query(`ALTER TABLE execution_history ENABLE ROW LEVEL SECURITY`);
    await queryRunner.query(`ALTER TABLE execution_history FORCE ROW LEVEL SECURITY`);
    await queryRunner.query(`ALTER TABLE execution_history_default ENABLE ROW LEVEL SECURITY`);
    await queryRunner.query(`ALTER TABLE execution_history_default FORCE ROW LEVEL SECURITY`);
    await queryRunner.query(`
      CREATE POLICY execution_history_tenant_isolation ON execution_history
        FOR ALL TO fdl_app
        USING (${tenantPolicyExpression()})
        WITH CHECK (${tenantPolicyExpression()})`);
    await queryRunner.query(`
      CREATE POLICY execution_history_system_access ON execution_history
        FOR ALL TO fdl_system
        USING (true) WITH CHECK (true)`);
    await queryRunner.query(`GRANT SELECT, INSERT ON execution_history TO fdl_app`);
    await queryRunner.query(`GRANT SELECT, INSERT, DELETE ON execution_history TO fdl_system`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE execution_history`);
  }
}

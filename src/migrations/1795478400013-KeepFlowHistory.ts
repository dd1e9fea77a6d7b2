import { MigrationInterface, QueryRunner } from 'typeorm';
import { boundMigrationWaits } from './migration-timeouts';

/**
 * A flow's versions, and the executions and archived history that point at them, are immutable by
 * the schema's word, and `fdl_app` holds no DELETE right on them. But `flow_versions` referenced
 * `flows` ON DELETE CASCADE: deleting a flow (which `fdl_app` may) removed all of that, and the same
 * ids could then be inserted again (a published version rewritten, a completed execution back to
 * running at version 1).
 *
 * What a tenant may delete: a flow with no version yet (a draft). Once a flow has a version, it and
 * its history stay; the foreign key now refuses the delete (SQLSTATE 23503; 23001 from PostgreSQL 18; naming this constraint),
 * for every role. Terminal executions leave `execution_snapshots` only by archival, which writes them
 * to history and audits the move in the same statement; history leaves only by the system's
 * retention (dropping whole months). Removing a whole tenant is the operator's job, below the
 * runtime's roles.
 *
 * NOT VALID: every row was checked by the constraint this one replaces (same columns, same key; only
 * the action differs), and validating it again in this transaction would hold the DROP's exclusive
 * lock on `flow_versions`, reads included, for a scan of the whole table. New rows and every delete
 * are checked from the moment it exists; `ALTER TABLE flow_versions VALIDATE CONSTRAINT
 * "FK_flow_versions_flow"` at any later time marks it valid, under a lock that lets writes go on.
 */
export class KeepFlowHistory1795478400013 implements MigrationInterface {
  name = 'KeepFlowHistory1795478400013';

  async up(queryRunner: QueryRunner): Promise<void> {
    await boundMigrationWaits(queryRunner);
    // Two statements: Citus refuses ADD CONSTRAINT with other subcommands in one ALTER TABLE.
    await queryRunner.query(`ALTER TABLE flow_versions DROP CONSTRAINT "FK_flow_versions_flow"`);
    await queryRunner.query(`
      ALTER TABLE flow_versions
        ADD CONSTRAINT "FK_flow_versions_flow" FOREIGN KEY (tenant_id, flow_id)
          REFERENCES flows (tenant_id, id) ON DELETE RESTRICT NOT VALID`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await boundMigrationWaits(queryRunner);
    await queryRunner.query(`ALTER TABLE flow_versions DROP CONSTRAINT "FK_flow_versions_flow"`);
    await queryRunner.query(`
      ALTER TABLE flow_versions
        ADD CONSTRAINT "FK_flow_versions_flow" FOREIGN KEY (tenant_id, flow_id)
          REFERENCES flows (tenant_id, id) ON DELETE CASCADE`);
  }
}

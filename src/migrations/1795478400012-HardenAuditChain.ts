import { MigrationInterface, QueryRunner } from 'typeorm';
import { CURRENT_ACTOR_SETTING, SYSTEM_TENANT_ID } from '../tenancy/tenant-policy';
import { linkChainFunction } from './1795478400006-CreateAuditLogs';
import { boundMigrationWaits } from './migration-timeouts';

/**
 * Two holes of the audit chain as first shipped (issue 23):
 *
 * - Its columns were nullable. An entry written behind the triggers without position or hash sat
 *   outside the chain, and the unique (tenant_id, chain_position) index admits any number of NULLs.
 *   Every entry must now have a position (from 1), a hash, and a previous hash exactly when it is not
 *   the first. NOT VALID: the check holds for every entry written from now on without a scan of the
 *   trail under this migration's lock; `verifyChain()` reports older unchained entries ('unchained'),
 *   and an operator validates the check at a quiet moment (docs/lifecycle-services.md, "Audit trail") under a lock that
 *   lets writes go on.
 * - The writer chose `created_at` and `actor`: SQL in a transaction could append a backdated entry
 *   under any name, and it verified. The database now sets both, whatever the INSERT says:
 *   `created_at` from the clock once the chain's lock is held (so it never runs backwards along a
 *   chain), `actor` from the transaction's `app.current_actor` setting, which the tenant prelude sets
 *   from `runInTenant(…, { actor })` / `resolveActor` ('unknown', or 'system' on the system chain, when
 *   none is given). On Citus the prelude propagates the setting to the worker, where the trigger runs.
 */
export class HardenAuditChain1795478400012 implements MigrationInterface {
  name = 'HardenAuditChain1795478400012';

  async up(queryRunner: QueryRunner): Promise<void> {
    await boundMigrationWaits(queryRunner);
    await queryRunner.query(`
      ALTER TABLE audit_logs
        ADD CONSTRAINT "CHK_audit_logs_chained" CHECK (
          chain_position >= 1 AND hash IS NOT NULL AND (previous_hash IS NULL) = (chain_position = 1)
        ) NOT VALID`);
    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION audit_logs_link_chain() RETURNS trigger
        LANGUAGE plpgsql
        SET search_path = pg_catalog, pg_temp
      AS $$
      DECLARE
        last_position bigint;
        last_hash text;
      BEGIN
        PERFORM pg_advisory_xact_lock(hashtextextended('fdl-runtime-db:audit:' || NEW.tenant_id::text, 0));
        -- One row, by a backward scan of the chain's unique index.
        EXECUTE format(
          'SELECT chain_position, hash FROM %I.%I WHERE tenant_id = $1 AND chain_position IS NOT NULL
           ORDER BY tenant_id DESC, chain_position DESC LIMIT 1', TG_TABLE_SCHEMA, TG_TABLE_NAME)
          INTO last_position, last_hash
          USING NEW.tenant_id;
        NEW.created_at := clock_timestamp();
        NEW.actor := coalesce(nullif(current_setting('${CURRENT_ACTOR_SETTING}', true), ''),
          CASE WHEN NEW.tenant_id = '${SYSTEM_TENANT_ID}'::uuid THEN 'system' ELSE 'unknown' END);
        NEW.chain_position := coalesce(last_position, 0) + 1;
        NEW.previous_hash := last_hash;
        NEW.hash := public.audit_logs_entry_hash(NEW.tenant_id, NEW.chain_position, NEW.previous_hash, NEW.actor,
          NEW.action, NEW.target_type, NEW.target_id, NEW.details, NEW.created_at);
        RETURN NEW;
      END
      $$`);
    await queryRunner.query(`REVOKE ALL ON FUNCTION audit_logs_link_chain() FROM PUBLIC`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await boundMigrationWaits(queryRunner);
    await queryRunner.query(linkChainFunction('CREATE OR REPLACE'));
    await queryRunner.query(`ALTER TABLE audit_logs DROP CONSTRAINT "CHK_audit_logs_chained"`);
  }
}

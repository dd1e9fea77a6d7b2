import { MigrationInterface, QueryRunner } from 'typeorm';
import { tenantPolicyExpression } from '../tenancy/tenant-policy';
import { boundMigrationWaits } from './migration-timeouts';

/**
 * The security audit trail. Cross-tenant: system entries are kept under the reserved tenant id
 * `00000000-0000-0000-0000-000000000000` (SYSTEM_TENANT_ID, which no tenant can have), so that
 * `tenant_id` is never NULL and the table can be sharded by it like the others. Append-only for
 * every role, the owner included: no UPDATE/DELETE/TRUNCATE grant to the application roles, and
 * triggers that refuse those statements to whoever runs them. There is deliberately no foreign key
 * to `tenants`: the trail must outlive the tenant it describes.
 *
 * Tamper-evident from its first row: entries form a hash chain per tenant (the system's included).
 * Each entry stores its position, the previous entry's hash and its own sha256 over a canonical
 * form, computed by the database on INSERT under a per-chain advisory lock, so concurrent writers
 * cannot fork a chain; the unique (tenant_id, chain_position) index refuses a fork even where the
 * lock could not help (a REPEATABLE READ snapshot that missed the latest entry). The chain is part
 * of the table from the start, so no migration ever has to backfill it under a lock.
 */
export class CreateAuditLogs1795478400006 implements MigrationInterface {
  name = 'CreateAuditLogs1795478400006';

  async up(queryRunner: QueryRunner): Promise<void> {
    await boundMigrationWaits(queryRunner);
    await queryRunner.query(`
      CREATE TABLE audit_logs (
        id              uuid        NOT NULL DEFAULT gen_random_uuid(),
        tenant_id       uuid        NOT NULL,
        actor           text        NOT NULL,
        action          text        NOT NULL,
        target_type     text,
        target_id       text,
        details         jsonb       NOT NULL DEFAULT '{}',
        created_at      timestamptz NOT NULL DEFAULT now(),
        chain_position  bigint,
        previous_hash   text,
        hash            text,
        CONSTRAINT "PK_audit_logs" PRIMARY KEY (tenant_id, id),
        CONSTRAINT "CHK_audit_logs_actor" CHECK (length(actor) BETWEEN 1 AND 200),
        CONSTRAINT "CHK_audit_logs_action" CHECK (length(action) BETWEEN 1 AND 200)
      )`);
    await queryRunner.query(`
      CREATE INDEX "IDX_audit_logs_tenant_created"
        ON audit_logs (tenant_id, created_at DESC)`);
    await queryRunner.query(`
      CREATE UNIQUE INDEX "UQ_audit_logs_tenant_chain_position"
        ON audit_logs (tenant_id, chain_position)`);

    // The canonical form is a jsonb array: its text form is fixed by PostgreSQL, and created_at is
    // taken as epoch microseconds so the session's TimeZone cannot change it. The fields are passed
    // one by one, not as an `audit_logs` row: on a Citus worker the trigger's row is a shard's type.
    // STABLE, not IMMUTABLE: jsonb_build_array and convert_to are themselves only STABLE.
    await queryRunner.query(`
      CREATE FUNCTION audit_logs_entry_hash(
          tenant_id uuid, chain_position bigint, previous_hash text, actor text, action text,
          target_type text, target_id text, details jsonb, created_at timestamptz)
        RETURNS text
        LANGUAGE sql
        STABLE
        SET search_path = pg_catalog, pg_temp
      AS $$
        SELECT encode(sha256(convert_to(jsonb_build_array(
          tenant_id, chain_position, previous_hash, actor, action, target_type, target_id, details,
          (extract(epoch FROM created_at) * 1000000)::bigint
        )::text, 'UTF8')), 'hex')
      $$`);
    // Called by the chain trigger (as the inserting role) and by chain verification.
    await queryRunner.query(`REVOKE ALL ON FUNCTION audit_logs_entry_hash(uuid, bigint, text, text, text, text, text, jsonb, timestamptz) FROM PUBLIC`);
    await queryRunner.query(`GRANT EXECUTE ON FUNCTION audit_logs_entry_hash(uuid, bigint, text, text, text, text, text, jsonb, timestamptz) TO fdl_app, fdl_system`);
    await queryRunner.query(linkChainFunction('CREATE'));
    await queryRunner.query(`REVOKE ALL ON FUNCTION audit_logs_link_chain() FROM PUBLIC`);
    await queryRunner.query(`
      CREATE TRIGGER audit_logs_hash_chain
        BEFORE INSERT ON audit_logs
        FOR EACH ROW EXECUTE FUNCTION audit_logs_link_chain()`);

    await queryRunner.query(`
      CREATE FUNCTION audit_logs_refuse_change() RETURNS trigger
        LANGUAGE plpgsql
        SET search_path = pg_catalog, pg_temp
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
        USING (${tenantPolicyExpression()})
        WITH CHECK (${tenantPolicyExpression()})`);
    await queryRunner.query(`
      CREATE POLICY audit_logs_system_access ON audit_logs
        FOR ALL TO fdl_system
        USING (true) WITH CHECK (true)`);
    await queryRunner.query(`GRANT SELECT, INSERT ON audit_logs TO fdl_app, fdl_system`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE audit_logs`);
    await queryRunner.query(`DROP FUNCTION audit_logs_refuse_change()`);
    await queryRunner.query(`DROP FUNCTION audit_logs_link_chain()`);
    await queryRunner.query(`DROP FUNCTION audit_logs_entry_hash(uuid, bigint, text, text, text, text, text, jsonb, timestamptz)`);
  }
}

/**
 * The chain trigger's function as this migration creates it (a later one replaces it; its down()
 * restores this). The previous entry is read from the table the trigger fires on (TG_TABLE_NAME):
 * the table itself on one node, the tenant's shard on a Citus worker, where the chain's rows live.
 */
export function linkChainFunction(verb: 'CREATE' | 'CREATE OR REPLACE'): string {
  return `
      ${verb} FUNCTION audit_logs_link_chain() RETURNS trigger
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
        NEW.chain_position := coalesce(last_position, 0) + 1;
        NEW.previous_hash := last_hash;
        NEW.hash := public.audit_logs_entry_hash(NEW.tenant_id, NEW.chain_position, NEW.previous_hash, NEW.actor,
          NEW.action, NEW.target_type, NEW.target_id, NEW.details, NEW.created_at);
        RETURN NEW;
      END
      $$`;
}

import { MigrationInterface, QueryRunner } from 'typeorm';
import { boundMigrationWaits } from './migration-timeouts';

/**
 * The security audit trail. Cross-tenant: a system entry has no tenant. Append-only for every role,
 * the owner included: no UPDATE/DELETE/TRUNCATE grant to the application roles, and triggers that
 * refuse those statements to whoever runs them. There is deliberately no foreign key to `tenants`:
 * the trail must outlive the tenant it describes.
 *
 * Tamper-evident from its first row: entries form a hash chain per tenant, and one for system
 * entries. Each entry stores its position, the previous entry's hash and its own sha256 over a
 * canonical form, computed by the database on INSERT under a per-chain advisory lock, so concurrent
 * writers cannot fork a chain; the unique (chain, position) indexes refuse a fork even where the lock
 * could not help (a REPEATABLE READ snapshot that missed the latest entry). The chain is part of the
 * table from the start, so no migration ever has to backfill it under a lock.
 */
export class CreateAuditLogs1795478400006 implements MigrationInterface {
  name = 'CreateAuditLogs1795478400006';

  async up(queryRunner: QueryRunner): Promise<void> {
    await boundMigrationWaits(queryRunner);
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
        chain_position bigint,
        previous_hash  text,
        hash           text,
        CONSTRAINT "PK_audit_logs" PRIMARY KEY (id),
        CONSTRAINT "CHK_audit_logs_actor" CHECK (length(actor) BETWEEN 1 AND 200),
        CONSTRAINT "CHK_audit_logs_action" CHECK (length(action) BETWEEN 1 AND 200)
      )`);
    await queryRunner.query(`
      CREATE INDEX "IDX_audit_logs_tenant_created"
        ON audit_logs (tenant_id, created_at DESC)`);

    // Two indexes because PostgreSQL 14 has no UNIQUE NULLS NOT DISTINCT: one for the tenants'
    // chains, one for the system chain (no tenant). Plain equality keeps them usable under RLS,
    // where an expression such as coalesce() would not be pushed below the policy.
    await queryRunner.query(`
      CREATE UNIQUE INDEX "UQ_audit_logs_tenant_chain_position"
        ON audit_logs (tenant_id, chain_position)`);
    await queryRunner.query(`
      CREATE UNIQUE INDEX "UQ_audit_logs_system_chain_position"
        ON audit_logs (chain_position) WHERE tenant_id IS NULL`);

    // The canonical form is a jsonb array: its text form is fixed by PostgreSQL, and created_at is
    // taken as epoch microseconds so the session's TimeZone cannot change it. STABLE, not IMMUTABLE:
    // jsonb_build_array and convert_to are themselves only STABLE.
    await queryRunner.query(`
      CREATE FUNCTION audit_logs_entry_hash(entry audit_logs) RETURNS text
        LANGUAGE sql
        STABLE
        SET search_path = pg_catalog, pg_temp
      AS $$
        SELECT encode(sha256(convert_to(jsonb_build_array(
          entry.tenant_id, entry.chain_position, entry.previous_hash, entry.actor, entry.action,
          entry.target_type, entry.target_id, entry.details,
          (extract(epoch FROM entry.created_at) * 1000000)::bigint
        )::text, 'UTF8')), 'hex')
      $$`);
    // Called by the chain trigger (as the inserting role) and by chain verification.
    await queryRunner.query(`REVOKE ALL ON FUNCTION audit_logs_entry_hash(audit_logs) FROM PUBLIC`);
    await queryRunner.query(`GRANT EXECUTE ON FUNCTION audit_logs_entry_hash(audit_logs) TO fdl_app, fdl_system`);
    await queryRunner.query(`
      CREATE FUNCTION audit_logs_link_chain() RETURNS trigger
        LANGUAGE plpgsql
        SET search_path = pg_catalog, pg_temp
      AS $$
      DECLARE
        last_entry record;
      BEGIN
        PERFORM pg_advisory_xact_lock(hashtextextended('fdl-runtime-db:audit:' || coalesce(NEW.tenant_id::text, 'system'), 0));
        -- Each branch reads one row by a backward scan of its chain's unique index.
        IF NEW.tenant_id IS NULL THEN
          SELECT chain_position, hash INTO last_entry FROM public.audit_logs
            WHERE tenant_id IS NULL AND chain_position IS NOT NULL
            ORDER BY chain_position DESC LIMIT 1;
        ELSE
          SELECT chain_position, hash INTO last_entry FROM public.audit_logs
            WHERE tenant_id = NEW.tenant_id AND chain_position IS NOT NULL
            ORDER BY tenant_id DESC, chain_position DESC LIMIT 1;
        END IF;
        NEW.chain_position := coalesce(last_entry.chain_position, 0) + 1;
        NEW.previous_hash := last_entry.hash;
        NEW.hash := public.audit_logs_entry_hash(NEW);
        RETURN NEW;
      END
      $$`);
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
        USING (tenant_id = (SELECT NULLIF(current_setting('app.current_tenant_id', true), '')::uuid))
        WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.current_tenant_id', true), '')::uuid))`);
    await queryRunner.query(`
      CREATE POLICY audit_logs_system_access ON audit_logs
        FOR ALL TO fdl_system
        USING (true) WITH CHECK (true)`);
    await queryRunner.query(`GRANT SELECT, INSERT ON audit_logs TO fdl_app, fdl_system`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER audit_logs_hash_chain ON audit_logs`);
    await queryRunner.query(`DROP FUNCTION audit_logs_link_chain()`);
    await queryRunner.query(`DROP FUNCTION audit_logs_entry_hash(audit_logs)`);
    await queryRunner.query(`DROP TABLE audit_logs`);
    await queryRunner.query(`DROP FUNCTION audit_logs_refuse_change()`);
  }
}

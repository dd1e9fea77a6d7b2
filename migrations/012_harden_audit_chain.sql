-- 012_harden_audit_chain.sql: generated from the TypeORM migration HardenAuditChain1795478400012 (src/migrations/).
-- Do not edit by hand: change the migration, then run `npm run migrations:sql`.
--
-- Apply in one transaction: psql -v ON_ERROR_STOP=1 -1 -f 012_harden_audit_chain.sql
-- or with sqlx migrate run (sqlx wraps each file in a transaction).

SET LOCAL lock_timeout = '5s';

SET LOCAL statement_timeout = '60s';

ALTER TABLE audit_logs
  ADD CONSTRAINT "CHK_audit_logs_chained" CHECK (
    chain_position >= 1 AND hash IS NOT NULL AND (previous_hash IS NULL) = (chain_position = 1)
  ) NOT VALID;

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
        NEW.actor := coalesce(nullif(current_setting('app.current_actor', true), ''),
          CASE WHEN NEW.tenant_id = '00000000-0000-0000-0000-000000000000'::uuid THEN 'system' ELSE 'unknown' END);
        NEW.chain_position := coalesce(last_position, 0) + 1;
        NEW.previous_hash := last_hash;
        NEW.hash := public.audit_logs_entry_hash(NEW.tenant_id, NEW.chain_position, NEW.previous_hash, NEW.actor,
          NEW.action, NEW.target_type, NEW.target_id, NEW.details, NEW.created_at);
        RETURN NEW;
      END
      $$;

REVOKE ALL ON FUNCTION audit_logs_link_chain() FROM PUBLIC;

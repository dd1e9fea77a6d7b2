-- 008_add_audit_hash_chain.sql: generated from the TypeORM migration AddAuditHashChain1795478400008 (src/migrations/).
-- Do not edit by hand: change the migration, then run `npm run migrations:sql`.
--
-- Apply in one transaction: psql -v ON_ERROR_STOP=1 -1 -f 008_add_audit_hash_chain.sql
-- or with sqlx migrate run (sqlx wraps each file in a transaction).

ALTER TABLE audit_logs
  ADD COLUMN chain_position bigint,
  ADD COLUMN previous_hash text,
  ADD COLUMN hash text;

CREATE UNIQUE INDEX "UQ_audit_logs_tenant_chain_position"
  ON audit_logs (tenant_id, chain_position);

CREATE UNIQUE INDEX "UQ_audit_logs_system_chain_position"
  ON audit_logs (chain_position) WHERE tenant_id IS NULL;

CREATE FUNCTION audit_logs_entry_hash(entry audit_logs) RETURNS text
  LANGUAGE sql
  IMMUTABLE
  SET search_path = pg_catalog
AS $$
        SELECT encode(sha256(convert_to(jsonb_build_array(
          entry.tenant_id, entry.chain_position, entry.previous_hash, entry.actor, entry.action,
          entry.target_type, entry.target_id, entry.details,
          (extract(epoch FROM entry.created_at) * 1000000)::bigint
        )::text, 'UTF8')), 'hex')
      $$;

CREATE FUNCTION audit_logs_link_chain() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog
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
      $$;

REVOKE ALL ON FUNCTION audit_logs_link_chain() FROM PUBLIC;

ALTER TABLE audit_logs DISABLE TRIGGER audit_logs_append_only;

DO $$
      DECLARE
        entry audit_logs;
        chain uuid;
        position bigint;
        previous text;
      BEGIN
        FOR entry IN
          SELECT * FROM audit_logs
          ORDER BY coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'::uuid), created_at, id
        LOOP
          IF chain IS DISTINCT FROM coalesce(entry.tenant_id, '00000000-0000-0000-0000-000000000000'::uuid) THEN
            chain := coalesce(entry.tenant_id, '00000000-0000-0000-0000-000000000000'::uuid);
            position := 0;
            previous := NULL;
          END IF;
          position := position + 1;
          entry.chain_position := position;
          entry.previous_hash := previous;
          entry.hash := audit_logs_entry_hash(entry);
          UPDATE audit_logs SET chain_position = entry.chain_position, previous_hash = entry.previous_hash, hash = entry.hash
            WHERE id = entry.id;
          previous := entry.hash;
        END LOOP;
      END
      $$;

ALTER TABLE audit_logs ENABLE TRIGGER audit_logs_append_only;

CREATE TRIGGER audit_logs_hash_chain
  BEFORE INSERT ON audit_logs
  FOR EACH ROW EXECUTE FUNCTION audit_logs_link_chain();

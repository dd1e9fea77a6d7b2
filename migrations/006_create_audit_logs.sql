-- 006_create_audit_logs.sql: generated from the TypeORM migration CreateAuditLogs1795478400006 (src/migrations/).
-- Do not edit by hand: change the migration, then run `npm run migrations:sql`.
--
-- Apply in one transaction: psql -v ON_ERROR_STOP=1 -1 -f 006_create_audit_logs.sql
-- or with sqlx migrate run (sqlx wraps each file in a transaction).

SET LOCAL lock_timeout = '5s';

SET LOCAL statement_timeout = '60s';

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
);

CREATE INDEX "IDX_audit_logs_tenant_created"
  ON audit_logs (tenant_id, created_at DESC);

CREATE UNIQUE INDEX "UQ_audit_logs_tenant_chain_position"
  ON audit_logs (tenant_id, chain_position);

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
      $$;

REVOKE ALL ON FUNCTION audit_logs_entry_hash(uuid, bigint, text, text, text, text, text, jsonb, timestamptz) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION audit_logs_entry_hash(uuid, bigint, text, text, text, text, text, jsonb, timestamptz) TO fdl_app, fdl_system;

CREATE FUNCTION audit_logs_link_chain() RETURNS trigger
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
      $$;

REVOKE ALL ON FUNCTION audit_logs_link_chain() FROM PUBLIC;

CREATE TRIGGER audit_logs_hash_chain
  BEFORE INSERT ON audit_logs
  FOR EACH ROW EXECUTE FUNCTION audit_logs_link_chain();

CREATE FUNCTION audit_logs_refuse_change() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
AS $$
      BEGIN
        RAISE EXCEPTION 'audit_logs is append-only: % is not allowed', TG_OP
          USING ERRCODE = 'insufficient_privilege';
      END
      $$;

REVOKE ALL ON FUNCTION audit_logs_refuse_change() FROM PUBLIC;

CREATE TRIGGER audit_logs_append_only
  BEFORE UPDATE OR DELETE ON audit_logs
  FOR EACH ROW EXECUTE FUNCTION audit_logs_refuse_change();

CREATE TRIGGER audit_logs_no_truncate
  BEFORE TRUNCATE ON audit_logs
  FOR EACH STATEMENT EXECUTE FUNCTION audit_logs_refuse_change();

ALTER TABLE audit_logs ENABLE ROW LEVEL SECURITY;

ALTER TABLE audit_logs FORCE ROW LEVEL SECURITY;

CREATE POLICY audit_logs_tenant_isolation ON audit_logs
  FOR ALL TO fdl_app
  USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);

CREATE POLICY audit_logs_system_access ON audit_logs
  FOR ALL TO fdl_system
  USING (true) WITH CHECK (true);

GRANT SELECT, INSERT ON audit_logs TO fdl_app, fdl_system;

-- 006_create_audit_logs.sql: generated from the TypeORM migration CreateAuditLogs1795478400006 (src/migrations/).
-- Do not edit by hand: change the migration, then run `npm run migrations:sql`.
--
-- Apply in one transaction: psql -v ON_ERROR_STOP=1 -1 -f 006_create_audit_logs.sql
-- or with sqlx migrate run (sqlx wraps each file in a transaction).

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
);

CREATE INDEX "IDX_audit_logs_tenant_created"
  ON audit_logs (tenant_id, created_at DESC);

CREATE FUNCTION audit_logs_refuse_change() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog
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
  USING (tenant_id = (SELECT NULLIF(current_setting('app.current_tenant_id', true), '')::uuid))
  WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.current_tenant_id', true), '')::uuid));

CREATE POLICY audit_logs_system_access ON audit_logs
  FOR ALL TO fdl_system
  USING (true) WITH CHECK (true);

GRANT SELECT, INSERT ON audit_logs TO fdl_app, fdl_system;

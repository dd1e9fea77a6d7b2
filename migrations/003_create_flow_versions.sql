-- 003_create_flow_versions.sql: generated from the TypeORM migration CreateFlowVersions1795478400003 (src/migrations/).
-- Do not edit by hand: change the migration, then run `npm run migrations:sql`.
--
-- Apply in one transaction: psql -v ON_ERROR_STOP=1 -1 -f 003_create_flow_versions.sql
-- or with sqlx migrate run (sqlx wraps each file in a transaction).

SET LOCAL lock_timeout = '5s';

SET LOCAL statement_timeout = '60s';

CREATE TABLE flow_versions (
  id            uuid        NOT NULL DEFAULT gen_random_uuid(),
  tenant_id     uuid        NOT NULL,
  flow_id       uuid        NOT NULL,
  version       integer     NOT NULL,
  definition    jsonb       NOT NULL,
  content_hash  text        NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT "PK_flow_versions" PRIMARY KEY (tenant_id, id),
  CONSTRAINT "UQ_flow_versions_tenant_flow_id" UNIQUE (tenant_id, flow_id, id),
  CONSTRAINT "UQ_flow_versions_tenant_flow_version" UNIQUE (tenant_id, flow_id, version),
  CONSTRAINT "CHK_flow_versions_version" CHECK (version > 0),
  CONSTRAINT "CHK_flow_versions_content_hash" CHECK (content_hash ~ '^[0-9a-f]{64}$'),
  CONSTRAINT "FK_flow_versions_flow" FOREIGN KEY (tenant_id, flow_id)
    REFERENCES flows (tenant_id, id) ON DELETE CASCADE
);

ALTER TABLE flows
  -- squawk-ignore constraint-missing-not-valid, adding-foreign-key-constraint
  ADD CONSTRAINT "FK_flows_current_version" FOREIGN KEY (tenant_id, id, current_version_id)
    REFERENCES flow_versions (tenant_id, flow_id, id);

CREATE FUNCTION flow_versions_refuse_update() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
AS $$
      BEGIN
        RAISE EXCEPTION 'flow versions are immutable: publish a new version instead'
          USING ERRCODE = 'integrity_constraint_violation';
      END
      $$;

REVOKE ALL ON FUNCTION flow_versions_refuse_update() FROM PUBLIC;

CREATE TRIGGER flow_versions_immutable
  BEFORE UPDATE ON flow_versions
  FOR EACH ROW EXECUTE FUNCTION flow_versions_refuse_update();

ALTER TABLE flow_versions ENABLE ROW LEVEL SECURITY;

ALTER TABLE flow_versions FORCE ROW LEVEL SECURITY;

CREATE POLICY flow_versions_tenant_isolation ON flow_versions
  FOR ALL TO fdl_app
  USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);

CREATE POLICY flow_versions_system_access ON flow_versions
  FOR ALL TO fdl_system
  USING (true) WITH CHECK (true);

GRANT SELECT, INSERT ON flow_versions TO fdl_app;

GRANT SELECT, INSERT, DELETE ON flow_versions TO fdl_system;

-- 002_create_flows.sql: generated from the TypeORM migration CreateFlows1795478400002 (src/migrations/).
-- Do not edit by hand: change the migration, then run `npm run migrations:sql`.
--
-- Apply in one transaction: psql -v ON_ERROR_STOP=1 -1 -f 002_create_flows.sql
-- or with sqlx migrate run (sqlx wraps each file in a transaction).

SET LOCAL lock_timeout = '5s';

SET LOCAL statement_timeout = '60s';

CREATE TABLE flows (
  id                  uuid        NOT NULL DEFAULT gen_random_uuid(),
  tenant_id           uuid        NOT NULL,
  name                text        NOT NULL,
  description         text,
  current_version_id  uuid,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT "PK_flows" PRIMARY KEY (tenant_id, id),
  CONSTRAINT "UQ_flows_tenant_name" UNIQUE (tenant_id, name),
  CONSTRAINT "CHK_flows_name" CHECK (length(btrim(name)) BETWEEN 1 AND 200),
  CONSTRAINT "FK_flows_tenant" FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
);

ALTER TABLE flows ENABLE ROW LEVEL SECURITY;

ALTER TABLE flows FORCE ROW LEVEL SECURITY;

CREATE POLICY flows_tenant_isolation ON flows
  FOR ALL TO fdl_app
  USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);

CREATE POLICY flows_system_access ON flows
  FOR ALL TO fdl_system
  USING (true) WITH CHECK (true);

GRANT SELECT, INSERT, UPDATE, DELETE ON flows TO fdl_app, fdl_system;

-- 005_create_execution_history.sql: generated from the TypeORM migration CreateExecutionHistory1795478400005 (src/migrations/).
-- Do not edit by hand: change the migration, then run `npm run migrations:sql`.
--
-- Apply in one transaction: psql -v ON_ERROR_STOP=1 -1 -f 005_create_execution_history.sql
-- or with sqlx migrate run (sqlx wraps each file in a transaction).

SET LOCAL lock_timeout = '5s';

SET LOCAL statement_timeout = '60s';

CREATE TABLE execution_history (
  id               uuid        NOT NULL,
  tenant_id        uuid        NOT NULL,
  flow_id          uuid        NOT NULL,
  flow_version_id  uuid        NOT NULL,
  status           text        NOT NULL,
  input            jsonb       NOT NULL,
  state            jsonb       NOT NULL,
  output           jsonb,
  error            jsonb,
  version          integer     NOT NULL,
  created_at       timestamptz NOT NULL,
  completed_at     timestamptz NOT NULL,
  archived_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT "PK_execution_history" PRIMARY KEY (tenant_id, id, completed_at),
  CONSTRAINT "CHK_execution_history_status" CHECK (status IN ('completed', 'failed', 'cancelled')),
  CONSTRAINT "FK_execution_history_flow_version" FOREIGN KEY (tenant_id, flow_id, flow_version_id)
    REFERENCES flow_versions (tenant_id, flow_id, id) ON DELETE CASCADE
) PARTITION BY RANGE (completed_at);

CREATE INDEX "IDX_execution_history_tenant_completed"
  ON execution_history (tenant_id, completed_at DESC);

CREATE INDEX "IDX_execution_history_tenant_flow_version"
  ON execution_history (tenant_id, flow_id, flow_version_id);

CREATE TABLE execution_history_default PARTITION OF execution_history DEFAULT;

ALTER TABLE execution_history ENABLE ROW LEVEL SECURITY;

ALTER TABLE execution_history FORCE ROW LEVEL SECURITY;

ALTER TABLE execution_history_default ENABLE ROW LEVEL SECURITY;

ALTER TABLE execution_history_default FORCE ROW LEVEL SECURITY;

CREATE POLICY execution_history_tenant_isolation ON execution_history
  FOR ALL TO fdl_app
  USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);

CREATE POLICY execution_history_system_access ON execution_history
  FOR ALL TO fdl_system
  USING (true) WITH CHECK (true);

GRANT SELECT, INSERT ON execution_history TO fdl_app;

GRANT SELECT, INSERT, DELETE ON execution_history TO fdl_system;

-- 013_keep_flow_history.sql: generated from the TypeORM migration KeepFlowHistory1795478400013 (src/migrations/).
-- Do not edit by hand: change the migration, then run `npm run migrations:sql`.
--
-- Apply in one transaction: psql -v ON_ERROR_STOP=1 -1 -f 013_keep_flow_history.sql
-- or with sqlx migrate run (sqlx wraps each file in a transaction).

SET LOCAL lock_timeout = '5s';

SET LOCAL statement_timeout = '60s';

ALTER TABLE flow_versions DROP CONSTRAINT "FK_flow_versions_flow";

ALTER TABLE flow_versions
  ADD CONSTRAINT "FK_flow_versions_flow" FOREIGN KEY (tenant_id, flow_id)
    REFERENCES flows (tenant_id, id) ON DELETE RESTRICT NOT VALID;

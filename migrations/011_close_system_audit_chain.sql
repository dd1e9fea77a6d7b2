-- 011_close_system_audit_chain.sql: generated from the TypeORM migration CloseSystemAuditChain1795478400011 (src/migrations/).
-- Do not edit by hand: change the migration, then run `npm run migrations:sql`.
--
-- Apply in one transaction: psql -v ON_ERROR_STOP=1 -1 -f 011_close_system_audit_chain.sql
-- or with sqlx migrate run (sqlx wraps each file in a transaction).

SET LOCAL lock_timeout = '5s';

SET LOCAL statement_timeout = '60s';

ALTER POLICY audit_logs_tenant_isolation ON audit_logs USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid AND tenant_id <> '00000000-0000-0000-0000-000000000000'::uuid) WITH CHECK (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid AND tenant_id <> '00000000-0000-0000-0000-000000000000'::uuid);

-- 008_create_tenant_check_function.sql: generated from the TypeORM migration CreateTenantCheckFunction1795478400008 (src/migrations/).
-- Do not edit by hand: change the migration, then run `npm run migrations:sql`.
--
-- Apply in one transaction: psql -v ON_ERROR_STOP=1 -1 -f 008_create_tenant_check_function.sql
-- or with sqlx migrate run (sqlx wraps each file in a transaction).

SET LOCAL lock_timeout = '5s';

SET LOCAL statement_timeout = '60s';

CREATE FUNCTION fdl_require_active_tenant() RETURNS void
  LANGUAGE plpgsql
  STABLE
  SET search_path = pg_catalog, pg_temp
AS $$
      DECLARE
        tenant_status text;
      BEGIN
        SELECT t.status INTO tenant_status
          FROM public.tenants t
          WHERE t.id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid;
        IF tenant_status IS DISTINCT FROM 'active' THEN
          RAISE EXCEPTION 'the tenant does not exist or is not active'
            USING ERRCODE = 'FDL03', DETAIL = coalesce(tenant_status, 'unknown');
        END IF;
      END
      $$;

REVOKE ALL ON FUNCTION fdl_require_active_tenant() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION fdl_require_active_tenant() TO fdl_app;

-- CreateTenantCheckFunction: generated from src/migrations (CreateTenantCheckFunction1795478400009) by `npm run migrations:sql`.
-- Do not edit by hand: a test fails when this file and the TypeORM migration differ.
-- psql: psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -1 -f this-file.sql
-- sqlx: sqlx migrate run --source migrations (each file runs in its own transaction)

CREATE FUNCTION fdl_require_active_tenant() RETURNS void
  LANGUAGE plpgsql
  STABLE
  SET search_path = pg_catalog
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

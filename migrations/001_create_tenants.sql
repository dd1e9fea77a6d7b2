-- 001_create_tenants.sql: generated from the TypeORM migration CreateTenants1795478400001 (src/migrations/).
-- Do not edit by hand: change the migration, then run `npm run migrations:sql`.
--
-- Apply in one transaction: psql -v ON_ERROR_STOP=1 -1 -f 001_create_tenants.sql
-- or with sqlx migrate run (sqlx wraps each file in a transaction).

SET LOCAL lock_timeout = '5s';

SET LOCAL statement_timeout = '60s';

DO $$
      BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'fdl_app') THEN
          CREATE ROLE fdl_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
        END IF;
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'fdl_system') THEN
          CREATE ROLE fdl_system NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
        END IF;
      EXCEPTION WHEN insufficient_privilege THEN
        RAISE EXCEPTION 'roles fdl_app and fdl_system do not exist, and % may not create roles', current_user
          USING ERRCODE = 'insufficient_privilege',
                HINT = 'Have an administrator run sql/least-privilege-logins.sql first, or migrate as a role with CREATEROLE.';
      END
      $$;

DO $$
      BEGIN
        GRANT fdl_app, fdl_system TO CURRENT_USER;
      EXCEPTION WHEN insufficient_privilege THEN
        RAISE NOTICE '% is not made a member of fdl_app and fdl_system: it may not grant them', current_user;
      END
      $$;

GRANT USAGE ON SCHEMA public TO fdl_app, fdl_system;

DO $$
      BEGIN
        IF to_regclass('public.migrations') IS NOT NULL THEN
          GRANT SELECT ON public.migrations TO fdl_system;
        END IF;
      END
      $$;

CREATE TABLE tenants (
  id          uuid        NOT NULL DEFAULT gen_random_uuid(),
  name        text        NOT NULL,
  status      text        NOT NULL DEFAULT 'active',
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT "PK_tenants" PRIMARY KEY (id),
  CONSTRAINT "CHK_tenants_id" CHECK (id <> '00000000-0000-0000-0000-000000000000'),
  CONSTRAINT "CHK_tenants_name" CHECK (length(btrim(name)) BETWEEN 1 AND 200),
  CONSTRAINT "CHK_tenants_status" CHECK (status IN ('active', 'suspended'))
);

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;

ALTER TABLE tenants FORCE ROW LEVEL SECURITY;

CREATE POLICY tenants_tenant_isolation ON tenants
  FOR SELECT TO fdl_app
  USING (id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);

CREATE POLICY tenants_system_access ON tenants
  FOR ALL TO fdl_system
  USING (true) WITH CHECK (true);

GRANT SELECT ON tenants TO fdl_app;

GRANT SELECT, INSERT, UPDATE, DELETE ON tenants TO fdl_system;

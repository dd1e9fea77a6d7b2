-- The production layout of fdl-runtime-db's logins, for an administrator (a superuser, or a role
-- with CREATEROLE that may grant fdl_app and fdl_system) to run once in the application's database,
-- before the first migration:
--
--   psql "postgres://admin@host/fdl" -v ON_ERROR_STOP=1 \
--     -v owner=fdl_owner                -v owner_password="$OWNER_PASSWORD" \
--     -v runtime=fdl_runtime            -v runtime_password="$RUNTIME_PASSWORD" \
--     -v system_login=fdl_runtime_system -v system_password="$SYSTEM_PASSWORD" \
--     -f sql/least-privilege-logins.sql
--
-- * owner:        owns the schema; migrations run as it (npm run migration:run with its URL).
-- * runtime:      the module's DATABASE_URL. NOINHERIT: it has no privilege of its own, only the
--                 right to SET ROLE fdl_app inside a tenant transaction, so a query sent outside one
--                 fails with "permission denied" instead of reading every tenant's rows.
-- * system_login: the module's systemUrl (FDL_SYSTEM_DATABASE_URL), the only login that may become
--                 fdl_system. Pass -v system_login= (empty) to let the runtime login take the system
--                 path too (one login; then SQL run in a tenant transaction could switch to fdl_system).
--
-- Idempotent: running it again changes nothing but the passwords. Values are passed through
-- set_config() because psql does not substitute variables inside the DO blocks' bodies.
SELECT set_config('fdl.owner', :'owner', false),
       set_config('fdl.owner_password', :'owner_password', false),
       set_config('fdl.runtime', :'runtime', false),
       set_config('fdl.runtime_password', :'runtime_password', false),
       set_config('fdl.system_login', :'system_login', false),
       set_config('fdl.system_password', :'system_password', false);

DO $$
DECLARE
  owner text := current_setting('fdl.owner');
  runtime text := current_setting('fdl.runtime');
  system_login text := nullif(current_setting('fdl.system_login'), '');
BEGIN
  IF owner = '' OR runtime = '' THEN
    RAISE EXCEPTION 'owner and runtime must be named (-v owner=… -v runtime=…)';
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'fdl_app') THEN
    CREATE ROLE fdl_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'fdl_system') THEN
    CREATE ROLE fdl_system NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
  END IF;

  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = owner) THEN
    EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS', owner);
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = runtime) THEN
    EXECUTE format('CREATE ROLE %I LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS', runtime);
  END IF;
  EXECUTE format('ALTER ROLE %I NOINHERIT', runtime);
  EXECUTE format('GRANT fdl_app TO %I', runtime);

  IF system_login IS NULL THEN
    EXECUTE format('GRANT fdl_system TO %I', runtime);
  ELSE
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = system_login) THEN
      EXECUTE format('CREATE ROLE %I LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS', system_login);
    END IF;
    EXECUTE format('ALTER ROLE %I NOINHERIT', system_login);
    EXECUTE format('GRANT fdl_system TO %I', system_login);
    -- The split only holds if the runtime login cannot become fdl_system any more.
    IF EXISTS (SELECT FROM pg_auth_members WHERE roleid = 'fdl_system'::regrole AND member = runtime::regrole) THEN
      EXECUTE format('REVOKE fdl_system FROM %I', runtime);
    END IF;
  END IF;

  IF current_setting('fdl.owner_password') <> '' THEN
    EXECUTE format('ALTER ROLE %I PASSWORD %L', owner, current_setting('fdl.owner_password'));
  END IF;
  IF current_setting('fdl.runtime_password') <> '' THEN
    EXECUTE format('ALTER ROLE %I PASSWORD %L', runtime, current_setting('fdl.runtime_password'));
  END IF;
  IF system_login IS NOT NULL AND current_setting('fdl.system_password') <> '' THEN
    EXECUTE format('ALTER ROLE %I PASSWORD %L', system_login, current_setting('fdl.system_password'));
  END IF;

  -- The owner creates the schema's objects; nobody else may create anything in it (PostgreSQL 14
  -- still lets PUBLIC create in schema public).
  EXECUTE format('ALTER SCHEMA public OWNER TO %I', owner);
  REVOKE CREATE ON SCHEMA public FROM PUBLIC;

  -- What SQL injected into a tenant transaction could leave on a pooled connection for the next
  -- borrower, or store outside every table's policy, is not PUBLIC's (SECURITY.md, "Session state"):
  -- temporary tables (they shadow the schema's tables by name), session-level advisory locks (they
  -- outlive the transaction and block other tenants' audited writes) and new large objects (storage
  -- that no tenant policy covers). Transaction-level advisory locks, which the module uses, stay.
  EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
  REVOKE EXECUTE ON FUNCTION
    pg_catalog.lo_create(oid), pg_catalog.lo_creat(integer), pg_catalog.lo_from_bytea(oid, bytea),
    pg_catalog.lo_import(text), pg_catalog.lo_import(text, oid)
  FROM PUBLIC;
  REVOKE EXECUTE ON FUNCTION
    pg_catalog.pg_advisory_lock(bigint), pg_catalog.pg_advisory_lock(integer, integer),
    pg_catalog.pg_advisory_lock_shared(bigint), pg_catalog.pg_advisory_lock_shared(integer, integer),
    pg_catalog.pg_try_advisory_lock(bigint), pg_catalog.pg_try_advisory_lock(integer, integer),
    pg_catalog.pg_try_advisory_lock_shared(bigint), pg_catalog.pg_try_advisory_lock_shared(integer, integer)
  FROM PUBLIC;
  -- The migration commands hold a session-level lock while they run (one run at a time).
  EXECUTE format('GRANT EXECUTE ON FUNCTION pg_catalog.pg_advisory_lock(bigint) TO %I', owner);
END
$$;

-- The passwords are not left in the session's settings.
SELECT set_config('fdl.owner_password', '', false),
       set_config('fdl.runtime_password', '', false),
       set_config('fdl.system_password', '', false);

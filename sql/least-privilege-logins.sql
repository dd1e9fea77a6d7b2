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
-- On a Citus cluster, run it on the coordinator, after the database exists on every node with the
-- citus extension and the workers are registered (citus_add_node), and again after adding a worker.
-- Citus propagates the roles (their passwords, memberships) and the database's TEMPORARY grant to the
-- workers by itself, but not the owner of schema public nor the rights on pg_catalog's functions: the
-- script makes those changes on every worker too (run_command_on_workers, as the login running it,
-- which must be able to reach the workers from the coordinator), or fails naming the worker where it
-- could not. Without them the owner login's migrations fail on the workers with "permission denied
-- for schema public". Run it as shown above, each statement in its own transaction (not with psql's
-- -1/--single-transaction): the workers are changed over connections of their own, which see the
-- roles the script creates only once its first statements have committed.
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
  node_layout text;
BEGIN
  IF owner = '' OR runtime = '' THEN
    RAISE EXCEPTION 'owner and runtime must be named (-v owner=… -v runtime=…)';
  END IF;
  -- On Citus, the coordinator is where it runs: it changes the workers itself (below).
  IF EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
    IF (SELECT groupid FROM pg_catalog.pg_dist_local_group) <> 0 THEN
      RAISE EXCEPTION 'this database is on a Citus worker: run sql/least-privilege-logins.sql on the coordinator, which makes the same changes on every worker';
    END IF;
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

  -- What every node of the database gets: the same statements here and, on Citus, on each worker.
  --
  -- The owner creates the schema's objects; nobody else may create anything in it (PostgreSQL 14
  -- still lets PUBLIC create in schema public).
  --
  -- What SQL injected into a tenant transaction could leave on a pooled connection for the next
  -- borrower, or store outside every table's policy, is not PUBLIC's (SECURITY.md, "Session state"):
  -- temporary tables (they shadow the schema's tables by name), session-level advisory locks (they
  -- outlive the transaction and block other tenants' audited writes) and new large objects (storage
  -- that no tenant policy covers). Transaction-level advisory locks, which the module uses, stay.
  -- The migration commands hold a session-level lock while they run (one run at a time): the owner
  -- keeps pg_advisory_lock(bigint).
  node_layout := format($layout$
    ALTER SCHEMA public OWNER TO %1$I;
    REVOKE CREATE ON SCHEMA public FROM PUBLIC;
    REVOKE TEMPORARY ON DATABASE %2$I FROM PUBLIC;
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
    GRANT EXECUTE ON FUNCTION pg_catalog.pg_advisory_lock(bigint) TO %1$I;
  $layout$, owner, current_database());
  EXECUTE node_layout;
  -- For the workers (next statement), with this transaction's id: they can only be changed after it commits.
  PERFORM set_config('fdl.node_layout', node_layout, false),
          set_config('fdl.layout_transaction', pg_catalog.txid_current()::text, false);
END
$$;

-- On a Citus coordinator: the same layout on every worker. Citus creates the schema's functions and
-- the tables' shards on the workers over connections as the migrating login, so there too the owner
-- must own schema public (PostgreSQL 15 and later let only the database's owner create in it);
-- pg_catalog's functions are never propagated. A statement of its own: run_command_on_workers opens
-- new connections, which see the roles the statement above created only once it has committed. On a
-- single node, nothing.
DO $$
DECLARE
  node_layout text := current_setting('fdl.node_layout', true);
  worker record;
  inactive text;
  failures text[] := '{}';
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
    RETURN;
  END IF;
  IF coalesce(node_layout, '') = '' THEN
    RAISE EXCEPTION 'the statement before this one did not complete: run the whole of sql/least-privilege-logins.sql, with -v ON_ERROR_STOP=1';
  END IF;
  IF current_setting('fdl.layout_transaction', true) = pg_catalog.txid_current_if_assigned()::text THEN
    RAISE EXCEPTION 'on a Citus coordinator, sql/least-privilege-logins.sql cannot run in one transaction (psql -1/--single-transaction, or a BEGIN around it)'
      USING HINT = 'Run it as README shows: the workers are changed over connections of their own, which see the roles it creates only once they are committed.';
  END IF;
  SELECT string_agg(format('%s:%s', nodename, nodeport), ', ' ORDER BY nodename, nodeport) INTO inactive
  FROM pg_catalog.pg_dist_node WHERE groupid <> 0 AND noderole = 'primary' AND NOT isactive;
  IF inactive IS NOT NULL THEN
    RAISE WARNING 'Citus workers % are not active and were not changed: run this script again once they are', inactive;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_node WHERE groupid <> 0 AND noderole = 'primary' AND isactive) THEN
    RAISE WARNING 'no Citus worker is registered in this database yet: run this script again after citus_add_node(), or the owner''s migrations will fail on the workers with "permission denied for schema public"';
    RETURN;
  END IF;
  -- One statement (run_command_on_workers reports the first result only), in one transaction on
  -- each worker; not propagated again from there (Citus lets a worker with metadata propagate DDL);
  -- bounded: a lock this session cannot get there is an error, not a wait without end.
  FOR worker IN
    SELECT * FROM pg_catalog.run_command_on_workers(
      'DO $fdl_worker$ BEGIN SET LOCAL citus.enable_ddl_propagation = off; SET LOCAL lock_timeout = ''10s'';'
      || node_layout || 'END $fdl_worker$')
  LOOP
    IF NOT worker.success THEN
      failures := failures || format('%s:%s: %s', worker.nodename, worker.nodeport, regexp_replace(worker.result, '^ERROR:\s+', ''));
    END IF;
  END LOOP;
  IF cardinality(failures) > 0 THEN
    RAISE EXCEPTION 'the least-privilege layout could not be applied on the Citus worker(s) %', array_to_string(failures, '; ')
      USING HINT = 'The coordinator and the other workers have it. The changes are made there as the login running this script, over the coordinator''s connections (pg_hba.conf, pg_dist_authinfo): fix what is named and run the script again.';
  END IF;
END
$$;

-- The passwords are not left in the session's settings.
SELECT set_config('fdl.owner_password', '', false),
       set_config('fdl.runtime_password', '', false),
       set_config('fdl.system_password', '', false),
       set_config('fdl.node_layout', '', false),
       set_config('fdl.layout_transaction', '', false);

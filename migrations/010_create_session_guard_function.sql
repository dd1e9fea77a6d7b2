-- 010_create_session_guard_function.sql: generated from the TypeORM migration CreateSessionGuardFunction1795478400010 (src/migrations/).
-- Do not edit by hand: change the migration, then run `npm run migrations:sql`.
--
-- Apply in one transaction: psql -v ON_ERROR_STOP=1 -1 -f 010_create_session_guard_function.sql
-- or with sqlx migrate run (sqlx wraps each file in a transaction).

SET LOCAL lock_timeout = '5s';

SET LOCAL statement_timeout = '60s';

CREATE FUNCTION fdl_assert_clean_session() RETURNS void
  LANGUAGE plpgsql
  VOLATILE
  SET search_path = pg_catalog, pg_temp
AS $$
      DECLARE
        found text[] := '{}';
        temp_schema oid := pg_catalog.pg_my_temp_schema();
      BEGIN
        PERFORM pg_catalog.pg_advisory_unlock_all();
        IF EXISTS (SELECT FROM pg_catalog.pg_prepared_statements s WHERE s.from_sql) THEN
          found := found || 'prepared statements made with PREPARE'::text;
        END IF;
        IF temp_schema <> 0 AND EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.relnamespace = temp_schema) THEN
          found := found || 'temporary relations'::text;
        END IF;
        IF EXISTS (SELECT FROM pg_catalog.pg_listening_channels()) THEN
          found := found || 'LISTEN channels'::text;
        END IF;
        IF EXISTS (SELECT FROM pg_catalog.pg_cursors c WHERE c.is_holdable) THEN
          found := found || 'cursors WITH HOLD'::text;
        END IF;
        IF pg_catalog.cardinality(found) > 0 THEN
          RAISE EXCEPTION 'this connection holds session state left by an earlier transaction'
            USING ERRCODE = 'FDL04', DETAIL = pg_catalog.array_to_string(found, ', ');
        END IF;
      END
      $$;

REVOKE ALL ON FUNCTION fdl_assert_clean_session() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION fdl_assert_clean_session() TO fdl_app, fdl_system;

-- 014_move_default_history_rows.sql: generated from the TypeORM migration MoveDefaultHistoryRows1795478400014 (src/migrations/).
-- Do not edit by hand: change the migration, then run `npm run migrations:sql`.
--
-- Apply in one transaction: psql -v ON_ERROR_STOP=1 -1 -f 014_move_default_history_rows.sql
-- or with sqlx migrate run (sqlx wraps each file in a transaction).

SET LOCAL lock_timeout = '5s';

SET LOCAL statement_timeout = '60s';

CREATE OR REPLACE FUNCTION fdl_create_history_partitions(months_ahead integer)
  RETURNS SETOF text
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
      DECLARE
        first_month timestamptz := date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
        month_start timestamptz;
        month_end timestamptz;
        partition_name text;
        rows_hidden_from_owner boolean := pg_catalog.row_security_active('public.execution_history_default'::pg_catalog.regclass);
        foreign_key record;
      BEGIN
        IF months_ahead IS NULL OR months_ahead < 0 OR months_ahead > 120 THEN
          RAISE EXCEPTION 'months_ahead must be between 0 and 120, got %', months_ahead
            USING ERRCODE = 'invalid_parameter_value';
        END IF;
        FOR i IN 0..months_ahead LOOP
          month_start := first_month + make_interval(months => i);
          month_end := month_start + interval '1 month';
          partition_name := format('execution_history_y%sm%s',
            to_char(month_start AT TIME ZONE 'UTC', 'YYYY'), to_char(month_start AT TIME ZONE 'UTC', 'MM'));
          CONTINUE WHEN to_regclass('public.' || partition_name) IS NOT NULL;
          EXECUTE format('CREATE TABLE public.%I (LIKE public.execution_history INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', partition_name);
          -- An owner that RLS binds (not superuser, not BYPASSRLS) sees no row of a table that
          -- forces RLS without a policy for it: migration 014 says why what follows is safe.
          -- 1. The ATTACH would validate a foreign key it clones with one join run as the owner,
          --    under RLS on the referenced table, and find no referenced row. The new table gets
          --    those keys while it is empty; each moved row is then checked by the key's own
          --    trigger (which reads the referenced table as the system does for any insert), and
          --    the ATTACH adopts them.
          FOR foreign_key IN
            SELECT c.conname::text AS name, pg_catalog.pg_get_constraintdef(c.oid) AS definition
            FROM pg_catalog.pg_constraint c
            WHERE c.conrelid = 'public.execution_history'::pg_catalog.regclass AND c.contype = 'f'
              AND pg_catalog.row_security_active(c.confrelid::pg_catalog.regclass)
            ORDER BY c.conname
          LOOP
            EXECUTE format('ALTER TABLE public.%I ADD CONSTRAINT %I %s', partition_name, foreign_key.name, foreign_key.definition);
          END LOOP;
          -- 2. The default partition's rows: FORCE is lifted for the move alone, in this
          --    transaction, and set again before the ATTACH.
          IF rows_hidden_from_owner THEN
            ALTER TABLE public.execution_history_default NO FORCE ROW LEVEL SECURITY;
          END IF;
          EXECUTE format(
            'WITH moved AS (DELETE FROM public.execution_history_default WHERE completed_at >= $1 AND completed_at < $2 RETURNING *)
             INSERT INTO public.%I SELECT * FROM moved', partition_name)
            USING month_start, month_end;
          IF rows_hidden_from_owner THEN
            ALTER TABLE public.execution_history_default FORCE ROW LEVEL SECURITY;
          END IF;
          EXECUTE format('ALTER TABLE public.execution_history ATTACH PARTITION public.%I FOR VALUES FROM (%L) TO (%L)',
            partition_name, month_start, month_end);
          EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', partition_name);
          EXECUTE format('ALTER TABLE public.%I FORCE ROW LEVEL SECURITY', partition_name);
          EXECUTE format('REVOKE ALL ON public.%I FROM PUBLIC', partition_name);
          RETURN NEXT partition_name;
        END LOOP;
      END
      $$;

REVOKE ALL ON FUNCTION fdl_create_history_partitions(integer) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION fdl_create_history_partitions(integer) TO fdl_system;

-- 016_attach_history_partitions_before_moving.sql: generated from the TypeORM migration AttachHistoryPartitionsBeforeMoving1795478400016 (src/migrations/).
-- Do not edit by hand: change the migration, then run `npm run migrations:sql`.
--
-- Apply in one transaction: psql -v ON_ERROR_STOP=1 -1 -f 016_attach_history_partitions_before_moving.sql
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
        on_citus boolean := pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL;
        modify_mode text;
        rows_to_move boolean;
        referenced record;
      BEGIN
        IF months_ahead IS NULL OR months_ahead < 0 OR months_ahead > 120 THEN
          RAISE EXCEPTION 'months_ahead must be between 0 and 120, got %', months_ahead
            USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF on_citus THEN
          modify_mode := pg_catalog.current_setting('citus.multi_shard_modify_mode');
          PERFORM pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', true);
        END IF;
        FOR i IN 0..months_ahead LOOP
          month_start := first_month + make_interval(months => i);
          month_end := month_start + interval '1 month';
          partition_name := format('execution_history_y%sm%s',
            to_char(month_start AT TIME ZONE 'UTC', 'YYYY'), to_char(month_start AT TIME ZONE 'UTC', 'MM'));
          CONTINUE WHEN to_regclass('public.' || partition_name) IS NOT NULL;
          EXECUTE format('CREATE TABLE public.%I (LIKE public.execution_history INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', partition_name);
          -- Migration 016 says why: the month is attached empty, its rows moved in afterwards.
          IF rows_hidden_from_owner THEN
            ALTER TABLE public.execution_history_default NO FORCE ROW LEVEL SECURITY;
          END IF;
          SELECT EXISTS (SELECT 1 FROM public.execution_history_default WHERE completed_at >= month_start AND completed_at < month_end)
            INTO rows_to_move;
          IF rows_to_move THEN
            -- The tables the history's foreign keys reference, locked first in the strongest mode this
            -- path takes on them: the two ATTACHes below take them one after the other (on Citus the
            -- second in ACCESS EXCLUSIVE mode), and a publish holding a weaker lock in between would
            -- deadlock with the upgrade.
            FOR referenced IN
              SELECT DISTINCT c.confrelid::pg_catalog.regclass::text AS name FROM pg_catalog.pg_constraint c
              WHERE c.conrelid = 'public.execution_history'::pg_catalog.regclass AND c.contype = 'f' ORDER BY 1
            LOOP
              EXECUTE format('LOCK TABLE %s IN %s MODE', referenced.name, CASE WHEN on_citus THEN 'ACCESS EXCLUSIVE' ELSE 'SHARE ROW EXCLUSIVE' END);
            END LOOP;
            ALTER TABLE public.execution_history DETACH PARTITION public.execution_history_default;
          ELSIF rows_hidden_from_owner THEN
            ALTER TABLE public.execution_history_default FORCE ROW LEVEL SECURITY;
          END IF;
          EXECUTE format('ALTER TABLE public.execution_history ATTACH PARTITION public.%I FOR VALUES FROM (%L) TO (%L)',
            partition_name, month_start, month_end);
          IF rows_to_move THEN
            EXECUTE format('INSERT INTO public.%I SELECT * FROM public.execution_history_default WHERE completed_at >= $1 AND completed_at < $2',
              partition_name) USING month_start, month_end;
            DELETE FROM public.execution_history_default WHERE completed_at >= month_start AND completed_at < month_end;
            IF rows_hidden_from_owner THEN
              ALTER TABLE public.execution_history_default FORCE ROW LEVEL SECURITY;
            END IF;
            ALTER TABLE public.execution_history ATTACH PARTITION public.execution_history_default DEFAULT;
          END IF;
          EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', partition_name);
          EXECUTE format('ALTER TABLE public.%I FORCE ROW LEVEL SECURITY', partition_name);
          EXECUTE format('REVOKE ALL ON public.%I FROM PUBLIC', partition_name);
          RETURN NEXT partition_name;
        END LOOP;
        IF on_citus THEN
          PERFORM pg_catalog.set_config('citus.multi_shard_modify_mode', modify_mode, true);
        END IF;
      END
      $$;

REVOKE ALL ON FUNCTION fdl_create_history_partitions(integer) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION fdl_create_history_partitions(integer) TO fdl_system;

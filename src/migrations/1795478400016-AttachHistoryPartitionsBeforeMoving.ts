import { MigrationInterface, QueryRunner } from 'typeorm';
import { moveDefaultRowsFunction } from './1795478400014-MoveDefaultHistoryRows';
import { boundMigrationWaits } from './migration-timeouts';

/**
 * `fdl_create_history_partitions()` on a Citus cluster whose owner RLS binds (issue 23, finding 5,
 * in the layout SECURITY.md recommends), and on one node alike.
 *
 * Migration 014 moved a month's rows out of the default partition into a new table before attaching
 * it. On Citus that table is a local table on the coordinator until the ATTACH distributes it: the
 * foreign keys 014 gives it check each moved row against the coordinator's `flow_versions`, an empty
 * shell (the rows are on the workers), and refuse every one; without those keys, the ATTACH
 * validates them on the shards with a join run under forced RLS, which sees no referenced row either.
 *
 * Now a month is attached while it is empty, so it is distributed (on Citus) and gets the parent's
 * foreign keys without a row to validate, and only then are the rows moved in, each checked by the
 * keys' own triggers (which read the referenced table as they do for any insert, on the node that
 * holds both). PostgreSQL refuses to attach a range that the default partition holds rows of, so
 * where it does, the default partition is detached for the move and attached again after it (its
 * foreign keys are kept and adopted; the ATTACH checks that none of its rows is of another range, by
 * a scan that RLS does not govern). Where it holds none (the usual case: partitions made ahead), the
 * month is attached as before.
 *
 * What this costs, only in a call that has rows to move: detaching takes an ACCESS EXCLUSIVE lock on
 * `execution_history` until the call's transaction ends (reads of history wait; 014 held that lock on
 * the default partition alone), and the tables its foreign keys reference (`flow_versions`) are locked
 * first in the strongest mode the two ATTACHes take on them: SHARE ROW EXCLUSIVE on one node (writes
 * of versions wait), ACCESS EXCLUSIVE on Citus (reads too). Taken one after the other, a publish in
 * between deadlocked with the second (seen at 32 shards under the online-operations load). Creating partitions ahead (`createPartitionsAhead`) keeps the
 * default partition empty and this path unused.
 *
 * FORCE on the default partition is lifted to see its rows, as in 014 (which says why that keeps
 * tenant isolation), and set again before it is attached again; only where RLS binds the owner.
 *
 * On Citus the call runs its multi-shard commands over one connection per worker
 * (`citus.multi_shard_modify_mode = 'sequential'`, restored when the function returns): with
 * parallel connections, creating a month's shards while the cluster serves writes was seen to end
 * in a distributed deadlock at 32 shards (issue 27, finding 3). A `SET` clause cannot say this: on a
 * node without Citus, only a superuser may create a function that sets an unknown parameter.
 */
export class AttachHistoryPartitionsBeforeMoving1795478400016 implements MigrationInterface {
  name = 'AttachHistoryPartitionsBeforeMoving1795478400016';

  async up(queryRunner: QueryRunner): Promise<void> {
    await boundMigrationWaits(queryRunner);
    await queryRunner.query(`
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
      $$`);
    // CREATE OR REPLACE keeps the function's privileges; stated again so that this migration alone
    // says who may call it.
    await queryRunner.query(`REVOKE ALL ON FUNCTION fdl_create_history_partitions(integer) FROM PUBLIC`);
    await queryRunner.query(`GRANT EXECUTE ON FUNCTION fdl_create_history_partitions(integer) TO fdl_system`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await boundMigrationWaits(queryRunner);
    await queryRunner.query(moveDefaultRowsFunction());
  }
}

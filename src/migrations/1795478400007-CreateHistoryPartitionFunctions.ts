import { MigrationInterface, QueryRunner } from 'typeorm';
import { boundMigrationWaits } from './migration-timeouts';

/**
 * Monthly partitions of `execution_history`, created ahead and dropped for retention.
 *
 * Creating and dropping tables is the owner's right, not the application roles'. These two functions
 * run as their owner (SECURITY DEFINER) with a fixed search_path, and only `fdl_system` may call
 * them: the system path can manage partitions without ever holding DDL rights itself.
 *
 * Because they run with the owner's rights, every relation they name is schema-qualified and
 * `pg_temp` is listed last in their search_path: when it is not listed, PostgreSQL searches the
 * caller's temporary schema first, and a caller's temporary table named `pg_inherits` or `pg_class`
 * could make the owner drop any table it chooses.
 */
export class CreateHistoryPartitionFunctions1795478400007 implements MigrationInterface {
  name = 'CreateHistoryPartitionFunctions1795478400007';

  async up(queryRunner: QueryRunner): Promise<void> {
    await boundMigrationWaits(queryRunner);
    // Rows that already landed in the default partition for a month are moved into the new
    // partition in the same transaction: attaching over them would otherwise fail.
    await queryRunner.query(createPartitionsFunction('CREATE'));
    await queryRunner.query(`
      CREATE FUNCTION fdl_drop_history_partitions_before(cutoff timestamptz)
        RETURNS SETOF text
        LANGUAGE plpgsql
        SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp
      AS $$
      DECLARE
        partition record;
      BEGIN
        IF cutoff IS NULL THEN
          RAISE EXCEPTION 'cutoff must not be null' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        FOR partition IN
          SELECT c.relname::text AS name, pg_catalog.pg_get_expr(c.relpartbound, c.oid) AS bound
          FROM pg_catalog.pg_inherits i
          JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE i.inhparent = 'public.execution_history'::regclass
            AND n.nspname = 'public'
          ORDER BY c.relname
        LOOP
          CONTINUE WHEN partition.bound = 'DEFAULT';
          -- Only a bound this function can read is compared with the cutoff: anything else
          -- (MAXVALUE, a bound written by hand) is kept, and said so.
          IF partition.bound !~ '^FOR VALUES FROM \\(.*\\) TO \\(''[^'']+''\\)$' THEN
            RAISE WARNING 'execution_history partition % kept: its bound "%" is not a timestamp range', partition.name, partition.bound;
            CONTINUE;
          END IF;
          CONTINUE WHEN (regexp_match(partition.bound, 'TO \\(''([^'']+)''\\)$'))[1]::timestamptz > cutoff;
          EXECUTE format('DROP TABLE public.%I', partition.name);
          RETURN NEXT partition.name;
        END LOOP;
      END
      $$`);
    await queryRunner.query(`REVOKE ALL ON FUNCTION fdl_create_history_partitions(integer) FROM PUBLIC`);
    await queryRunner.query(`REVOKE ALL ON FUNCTION fdl_drop_history_partitions_before(timestamptz) FROM PUBLIC`);
    await queryRunner.query(`GRANT EXECUTE ON FUNCTION fdl_create_history_partitions(integer) TO fdl_system`);
    await queryRunner.query(`GRANT EXECUTE ON FUNCTION fdl_drop_history_partitions_before(timestamptz) TO fdl_system`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION fdl_drop_history_partitions_before(timestamptz)`);
    await queryRunner.query(`DROP FUNCTION fdl_create_history_partitions(integer)`);
  }
}

/** The partition-creating function as this migration makes it (migration 014 replaces it; its down() restores this). */
export function createPartitionsFunction(verb: 'CREATE' | 'CREATE OR REPLACE'): string {
  return `
      ${verb} FUNCTION fdl_create_history_partitions(months_ahead integer)
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
          EXECUTE format(
            'WITH moved AS (DELETE FROM public.execution_history_default WHERE completed_at >= $1 AND completed_at < $2 RETURNING *)
             INSERT INTO public.%I SELECT * FROM moved', partition_name)
            USING month_start, month_end;
          EXECUTE format('ALTER TABLE public.execution_history ATTACH PARTITION public.%I FOR VALUES FROM (%L) TO (%L)',
            partition_name, month_start, month_end);
          EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', partition_name);
          EXECUTE format('ALTER TABLE public.%I FORCE ROW LEVEL SECURITY', partition_name);
          EXECUTE format('REVOKE ALL ON public.%I FROM PUBLIC', partition_name);
          RETURN NEXT partition_name;
        END LOOP;
      END
      $$`;
}

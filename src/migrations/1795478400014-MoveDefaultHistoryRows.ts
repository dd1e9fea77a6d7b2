import { MigrationInterface, QueryRunner } from 'typeorm';
import { createPartitionsFunction } from './1795478400007-CreateHistoryPartitionFunctions';
import { boundMigrationWaits } from './migration-timeouts';

/**
 * `fdl_create_history_partitions()` moves the rows that landed in `execution_history_default` for a
 * month into that month's new partition before attaching it (issue 23, finding 5). It runs as the
 * schema's owner, and every table of the schema forces row level security, with no policy for the
 * owner. An owner that is neither superuser nor BYPASSRLS (the production layout: the owner login is
 * `NOSUPERUSER NOBYPASSRLS`) therefore:
 *
 * 1. saw no row of the default partition to move, so the `ATTACH` found them still there and failed
 *    ("updated partition constraint for default partition would be violated"), and with it that
 *    month and every later one of the call; the rows were never moved, nor ever dropped by retention;
 * 2. would have failed the `ATTACH` anyway once rows were moved: it validates the foreign key it
 *    clones onto the new partition with one join run as the owner (PostgreSQL's RI_Initial_Check,
 *    which, unlike the key's row triggers, does not lift FORCE for the owner), which sees no row of
 *    `flow_versions` and reports every moved row as a violation.
 *
 * A superuser owner bypasses RLS, which is why the move only ever worked on schemas owned by one.
 *
 * What the function does now, only where RLS binds the owner (`row_security_active()`, false for a
 * superuser or BYPASSRLS owner: there, and so on a Citus cluster migrated by the superuser, it runs
 * exactly what it ran before):
 *
 * - The new table gets the parent's foreign keys while it is still empty (nothing to validate), so
 *   that each moved row is checked by the key's own trigger, which reads `flow_versions` as it does
 *   for every archival insert, and the `ATTACH` adopts those keys instead of cloning and validating
 *   them. The catalog ends up as the clone would leave it (same names; constraints and triggers
 *   parented to the parent's). `ADD FOREIGN KEY` locks `flow_versions` in the mode the `ATTACH`
 *   takes anyway (SHARE ROW EXCLUSIVE: reads go on), a little earlier in the same transaction.
 * - FORCE is lifted on the default partition for the move alone and set again before the `ATTACH`.
 *
 * Why lifting FORCE keeps tenant isolation for `fdl_app` and `fdl_system`:
 *
 * - FORCE only decides whether the table's OWNER is subject to RLS. `fdl_app` and `fdl_system` own
 *   nothing, hold no privilege on the partition (a direct read is refused before RLS is consulted),
 *   and reach its rows through `execution_history` alone, whose policies this does not touch. RLS
 *   stays ENABLED throughout.
 * - `ALTER TABLE … NO FORCE` is transactional and takes an ACCESS EXCLUSIVE lock on the default
 *   partition (which the `ATTACH` takes anyway): no other session can see the lifted state, or read
 *   the partition while it lasts. Any error before FORCE is set again rolls the change back with the
 *   rest of the transaction (or savepoint).
 * - The caller gets control back only when the function has returned: no SQL of the caller's runs
 *   while the owner is exempt, and all that runs is this function's own, schema-qualified `DELETE …
 *   INSERT` (the default partition has no trigger but the foreign keys' own).
 *
 * Rejected: a policy letting the owner see the default partition would expose every tenant's
 * archived rows to the owner login at all times, not just during the move (today the owner sees
 * nothing without a role switch), would have to name the owner, which differs per installation and
 * changes with `ALTER … OWNER`/`REASSIGN OWNED`, and would still leave the `ATTACH`'s validation
 * failing on `flow_versions`. Reading the rows through the parent does not help: its policies are
 * for `fdl_app` and `fdl_system` only, and PostgreSQL refuses `SET ROLE` inside a SECURITY DEFINER
 * function. Lifting FORCE on `flow_versions` for the `ATTACH` would lock that table, reads included.
 *
 * Not covered, and untested: a Citus cluster whose owner RLS binds (`test/citus` migrates as the
 * superuser). Citus does not keep a foreign key between a local table (the new table before its
 * `ATTACH`) and a distributed one (docs/citus.md), so that case most likely fails
 * at the first step above; it needs a fix of its own, tried on a cluster.
 *
 * The function keeps its signature, SECURITY DEFINER, `search_path = pg_catalog, pg_temp` and
 * schema-qualified names. The retention function is unchanged: it reads no row, only the catalog,
 * and drops whole partitions, which RLS does not govern.
 */
export class MoveDefaultHistoryRows1795478400014 implements MigrationInterface {
  name = 'MoveDefaultHistoryRows1795478400014';

  async up(queryRunner: QueryRunner): Promise<void> {
    await boundMigrationWaits(queryRunner);
    await queryRunner.query(moveDefaultRowsFunction());
    // CREATE OR REPLACE keeps the function's privileges; stated again so that this migration alone
    // says who may call it.
    await queryRunner.query(`REVOKE ALL ON FUNCTION fdl_create_history_partitions(integer) FROM PUBLIC`);
    await queryRunner.query(`GRANT EXECUTE ON FUNCTION fdl_create_history_partitions(integer) TO fdl_system`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await boundMigrationWaits(queryRunner);
    // Migration 007's function, byte for byte (its body is stored as written).
    await queryRunner.query(createPartitionsFunction('CREATE OR REPLACE'));
  }
}

/** Migration 014's `fdl_create_history_partitions`, also what migration 016's `down()` restores. */
export function moveDefaultRowsFunction(): string {
  return `
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
      $$`;
}

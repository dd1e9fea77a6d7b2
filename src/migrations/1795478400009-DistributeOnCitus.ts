import { MigrationInterface, QueryRunner } from 'typeorm';
import { boundMigrationWaits } from './migration-timeouts';

/**
 * For the DDL that (un)distributes: it takes seconds per table, while the migration's own 60 s bound
 * is for plain DDL; the schema's row triggers only ever touch the row they fire for or (the audit
 * chain) rows of the same tenant, which share the shard, so they are safe on the workers; and the
 * foreign keys are added back in the same transaction as the distribution.
 */
export const CITUS_DDL_SETTINGS = `SET LOCAL statement_timeout = 0;
        SET LOCAL citus.enable_unsafe_triggers = on;
        SET LOCAL citus.multi_shard_modify_mode = 'sequential';`;

/**
 * PL/pgSQL: keeps the schema's foreign keys that match `keys` (a condition on `c`, a row of
 * pg_constraint) in `foreign_keys` (jsonb) and drops them.
 */
export const setForeignKeysAside = (keys: string) => `SELECT coalesce(jsonb_agg(fk), '[]') INTO foreign_keys FROM (
          SELECT c.conrelid::regclass::text AS table_name, c.conname::text AS name, pg_catalog.pg_get_constraintdef(c.oid) AS definition
          FROM pg_catalog.pg_constraint c
          WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace AND c.conparentid = 0
            AND ${keys}
        ) fk;
        FOR foreign_key IN SELECT * FROM jsonb_to_recordset(foreign_keys) AS fk (table_name text, name text, definition text) LOOP
          EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', foreign_key.table_name, foreign_key.name);
        END LOOP;`;

/** The foreign keys of the library's tables. */
const SET_FOREIGN_KEYS_ASIDE = setForeignKeysAside(`c.conrelid = ANY (ARRAY['public.tenants', 'public.flows', 'public.flow_versions', 'public.execution_snapshots',
                                        'public.execution_history', 'public.audit_logs']::regclass[])`);

/** PL/pgSQL: adds back what SET_FOREIGN_KEYS_ASIDE kept. */
export const ADD_FOREIGN_KEYS_BACK = `FOR foreign_key IN SELECT * FROM jsonb_to_recordset(foreign_keys) AS fk (table_name text, name text, definition text) LOOP
          EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', foreign_key.table_name, foreign_key.name, foreign_key.definition);
        END LOOP;`;

/**
 * The function as this migration made it, from its signature on (`CREATE FUNCTION …` here, and
 * `CREATE OR REPLACE FUNCTION …` where a later migration's down() restores it).
 */
export const distributeOnCitusFunction = `fdl_distribute_on_citus() RETURNS SETOF text
        LANGUAGE plpgsql
        SET search_path = pg_catalog, pg_temp
      AS $$
      DECLARE
        tenant_table text;
        foreign_keys jsonb;
        foreign_key record;
      BEGIN
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
          RAISE NOTICE 'the citus extension is not installed in this database: nothing to distribute';
          RETURN;
        END IF;
        IF EXISTS (SELECT FROM pg_catalog.pg_dist_partition WHERE logicalrelid = 'public.audit_logs'::regclass) THEN
          RETURN; -- distributed already: audit_logs is the last table distributed
        END IF;
        ${CITUS_DDL_SETTINGS}
        -- Citus cannot distribute a table that a local table references, nor one that references a
        -- local table, and turns the whole graph into "Citus local tables" when tenants becomes a
        -- reference table first (which a partitioned table's CHECK constraints do not survive):
        -- the schema's foreign keys are set aside while the tables are distributed, then added back.
        ${SET_FOREIGN_KEYS_ASIDE}
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition WHERE logicalrelid = 'public.tenants'::regclass) THEN
          PERFORM create_reference_table('public.tenants');
          RETURN NEXT 'tenants';
        END IF;
        FOREACH tenant_table IN ARRAY ARRAY['flows', 'flow_versions', 'execution_snapshots', 'execution_history', 'audit_logs'] LOOP
          CONTINUE WHEN EXISTS (SELECT FROM pg_catalog.pg_dist_partition WHERE logicalrelid = ('public.' || tenant_table)::regclass);
          IF tenant_table = 'flows' THEN
            PERFORM create_distributed_table('public.flows', 'tenant_id');
          ELSE
            PERFORM create_distributed_table('public.' || tenant_table, 'tenant_id', colocate_with => 'public.flows');
          END IF;
          RETURN NEXT tenant_table;
        END LOOP;
        ${ADD_FOREIGN_KEYS_BACK}
      END
      $$`;

/**
 * Scale-out: where the `citus` extension is installed in the database, `tenants` becomes a
 * reference table (a copy on every node) and the five tenant tables are distributed by `tenant_id`
 * in one co-location group, so that all of a tenant's rows live on one node and every foreign key
 * between them is checked there. On plain PostgreSQL nothing changes.
 *
 * The work is a function, `fdl_distribute_on_citus()`, that does nothing once the schema is
 * distributed: a database that gets Citus after it was migrated runs
 * `SELECT fdl_distribute_on_citus()` (as the owner) and ends up the same.
 */
export class DistributeOnCitus1795478400009 implements MigrationInterface {
  name = 'DistributeOnCitus1795478400009';

  async up(queryRunner: QueryRunner): Promise<void> {
    await boundMigrationWaits(queryRunner);
    await queryRunner.query(`
      CREATE FUNCTION ${distributeOnCitusFunction}`);
    await queryRunner.query(`REVOKE ALL ON FUNCTION fdl_distribute_on_citus() FROM PUBLIC`);
    await queryRunner.query(`SELECT fdl_distribute_on_citus()`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    // Back to local tables, with the foreign keys set aside the same way as on the way up.
    await queryRunner.query(`
      DO $$
      DECLARE
        tenant_table text;
        foreign_keys jsonb;
        foreign_key record;
      BEGIN
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
          RETURN;
        END IF;
        ${CITUS_DDL_SETTINGS}
        ${SET_FOREIGN_KEYS_ASIDE}
        FOREACH tenant_table IN ARRAY ARRAY['audit_logs', 'execution_history', 'execution_snapshots', 'flow_versions', 'flows', 'tenants'] LOOP
          IF EXISTS (SELECT FROM pg_catalog.pg_dist_partition WHERE logicalrelid = ('public.' || tenant_table)::regclass) THEN
            PERFORM undistribute_table('public.' || tenant_table);
          END IF;
        END LOOP;
        ${ADD_FOREIGN_KEYS_BACK}
      END
      $$`);
    await queryRunner.query(`DROP FUNCTION fdl_distribute_on_citus()`);
  }
}

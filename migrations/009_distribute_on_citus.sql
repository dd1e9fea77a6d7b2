-- 009_distribute_on_citus.sql: generated from the TypeORM migration DistributeOnCitus1795478400009 (src/migrations/).
-- Do not edit by hand: change the migration, then run `npm run migrations:sql`.
--
-- Apply in one transaction: psql -v ON_ERROR_STOP=1 -1 -f 009_distribute_on_citus.sql
-- or with sqlx migrate run (sqlx wraps each file in a transaction).

SET LOCAL lock_timeout = '5s';

SET LOCAL statement_timeout = '60s';

CREATE FUNCTION fdl_distribute_on_citus() RETURNS SETOF text
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
        SET LOCAL statement_timeout = 0;
        SET LOCAL citus.enable_unsafe_triggers = on;
        SET LOCAL citus.multi_shard_modify_mode = 'sequential';
        -- Citus cannot distribute a table that a local table references, nor one that references a
        -- local table, and turns the whole graph into "Citus local tables" when tenants becomes a
        -- reference table first (which a partitioned table's CHECK constraints do not survive):
        -- the schema's foreign keys are set aside while the tables are distributed, then added back.
        SELECT coalesce(jsonb_agg(fk), '[]') INTO foreign_keys FROM (
          SELECT c.conrelid::regclass::text AS table_name, c.conname::text AS name, pg_catalog.pg_get_constraintdef(c.oid) AS definition
          FROM pg_catalog.pg_constraint c
          WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace AND c.conparentid = 0
            AND c.conrelid = ANY (ARRAY['public.tenants', 'public.flows', 'public.flow_versions', 'public.execution_snapshots',
                                        'public.execution_history', 'public.audit_logs']::regclass[])
        ) fk;
        FOR foreign_key IN SELECT * FROM jsonb_to_recordset(foreign_keys) AS fk (table_name text, name text, definition text) LOOP
          EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', foreign_key.table_name, foreign_key.name);
        END LOOP;
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
        FOR foreign_key IN SELECT * FROM jsonb_to_recordset(foreign_keys) AS fk (table_name text, name text, definition text) LOOP
          EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', foreign_key.table_name, foreign_key.name, foreign_key.definition);
        END LOOP;
      END
      $$;

REVOKE ALL ON FUNCTION fdl_distribute_on_citus() FROM PUBLIC;

SELECT fdl_distribute_on_citus();

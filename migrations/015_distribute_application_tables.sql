-- 015_distribute_application_tables.sql: generated from the TypeORM migration DistributeApplicationTables1795478400015 (src/migrations/).
-- Do not edit by hand: change the migration, then run `npm run migrations:sql`.
--
-- Apply in one transaction: psql -v ON_ERROR_STOP=1 -1 -f 015_distribute_application_tables.sql
-- or with sqlx migrate run (sqlx wraps each file in a transaction).

SET LOCAL lock_timeout = '5s';

SET LOCAL statement_timeout = '60s';

CREATE OR REPLACE FUNCTION fdl_distribute_on_citus() RETURNS SETOF text
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
AS $$
      DECLARE
        tenant_table text;
        tenant_tables text[];
        foreign_keys jsonb;
        foreign_key record;
      BEGIN
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
          RAISE NOTICE 'the citus extension is not installed in this database: nothing to distribute';
          RETURN;
        END IF;
        -- The library's tenant tables (flows heads the co-location group), then the application's.
        SELECT ARRAY['flows', 'flow_versions', 'execution_snapshots', 'execution_history', 'audit_logs']
                 || coalesce(array_agg(c.relname::text ORDER BY c.relname), '{}')
          INTO tenant_tables
          FROM pg_catalog.pg_class c
         WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
           AND c.relforcerowsecurity
           AND c.relname NOT IN ('tenants', 'flows', 'flow_versions', 'execution_snapshots', 'execution_history', 'audit_logs')
           AND EXISTS (SELECT FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
           AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e');
        IF EXISTS (SELECT FROM pg_catalog.pg_dist_partition WHERE logicalrelid = 'public.tenants'::regclass)
           AND NOT EXISTS (SELECT FROM unnest(tenant_tables) t
                           WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition WHERE logicalrelid = format('public.%I', t)::regclass)) THEN
          RETURN; -- every tenant table is distributed already
        END IF;
        SET LOCAL statement_timeout = 0;
        SET LOCAL citus.enable_unsafe_triggers = on;
        SET LOCAL citus.multi_shard_modify_mode = 'sequential';
        -- As before (migration 009), with the application's tables in the graph: every foreign key
        -- from or to a table about to be distributed is set aside, then added back.
        SELECT coalesce(jsonb_agg(fk), '[]') INTO foreign_keys FROM (
          SELECT c.conrelid::regclass::text AS table_name, c.conname::text AS name, pg_catalog.pg_get_constraintdef(c.oid) AS definition
          FROM pg_catalog.pg_constraint c
          WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace AND c.conparentid = 0
            AND (c.conrelid = ANY (SELECT format('public.%I', t)::regclass FROM unnest('{tenants}' || tenant_tables) t)
                 OR c.confrelid = ANY (SELECT format('public.%I', t)::regclass FROM unnest('{tenants}' || tenant_tables) t))
        ) fk;
        FOR foreign_key IN SELECT * FROM jsonb_to_recordset(foreign_keys) AS fk (table_name text, name text, definition text) LOOP
          EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', foreign_key.table_name, foreign_key.name);
        END LOOP;
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition WHERE logicalrelid = 'public.tenants'::regclass) THEN
          PERFORM create_reference_table('public.tenants');
          RETURN NEXT 'tenants';
        END IF;
        FOREACH tenant_table IN ARRAY tenant_tables LOOP
          CONTINUE WHEN EXISTS (SELECT FROM pg_catalog.pg_dist_partition WHERE logicalrelid = format('public.%I', tenant_table)::regclass);
          IF tenant_table = 'flows' THEN
            PERFORM create_distributed_table('public.flows', 'tenant_id');
          ELSE
            PERFORM create_distributed_table(format('public.%I', tenant_table), 'tenant_id', colocate_with => 'public.flows');
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

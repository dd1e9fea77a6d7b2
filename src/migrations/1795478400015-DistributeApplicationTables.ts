import { MigrationInterface, QueryRunner } from 'typeorm';
import { ADD_FOREIGN_KEYS_BACK, CITUS_DDL_SETTINGS, distributeOnCitusFunction, setForeignKeysAside } from './1795478400009-DistributeOnCitus';
import { boundMigrationWaits } from './migration-timeouts';

/**
 * `fdl_distribute_on_citus()`, README's path for a database migrated before it had Citus, now
 * distributes the application's tenant tables too (issue 25, point 6). It distributed the library's
 * five and left an application table made with `tenantTable()` (`comments`) local on the
 * coordinator, silently; with a foreign key from it to `flows` or `tenants` it failed, because
 * making `tenants` a reference table turned the local tables tied to it into "Citus local tables",
 * which `create_distributed_table(…, colocate_with)` then refused.
 *
 * An application's tenant table is what `tenantTable()` makes: a table of `public` with a
 * `tenant_id` column and row level security forced, not a partition, not an extension's. Each is
 * distributed by `tenant_id` in the co-location group of `flows`, after the library's, in name order;
 * the foreign keys of every table involved (from it or to it) are set aside while the tables are
 * distributed and added back, as before. The function is done once no such table is left local.
 */
export class DistributeApplicationTables1795478400015 implements MigrationInterface {
  name = 'DistributeApplicationTables1795478400015';

  async up(queryRunner: QueryRunner): Promise<void> {
    await boundMigrationWaits(queryRunner);
    await queryRunner.query(`
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
        ${CITUS_DDL_SETTINGS}
        -- As before (migration 009), with the application's tables in the graph: every foreign key
        -- from or to a table about to be distributed is set aside, then added back.
        ${setForeignKeysAside(`(c.conrelid = ANY (SELECT format('public.%I', t)::regclass FROM unnest('{tenants}' || tenant_tables) t)
                 OR c.confrelid = ANY (SELECT format('public.%I', t)::regclass FROM unnest('{tenants}' || tenant_tables) t))`)}
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
        ${ADD_FOREIGN_KEYS_BACK}
      END
      $$`);
    await queryRunner.query(`REVOKE ALL ON FUNCTION fdl_distribute_on_citus() FROM PUBLIC`);
    // An application's tables made before this migration (and after 009 ran) are distributed now.
    await queryRunner.query(`SELECT fdl_distribute_on_citus()`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    // The application's tables stay distributed: undistributing them is theirs to decide.
    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION ${distributeOnCitusFunction}`);
  }
}

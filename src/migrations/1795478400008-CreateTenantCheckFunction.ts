import { MigrationInterface, QueryRunner } from 'typeorm';
import { boundMigrationWaits } from './migration-timeouts';

/**
 * The tenant check of every tenant transaction, as a statement that fails rather than one that
 * returns a status: the module sends it in the same round trip as the transaction's first query,
 * and when it raises, the server skips that query. A request for an unknown or suspended tenant
 * never runs a statement of its own.
 *
 * It runs as the caller (`fdl_app`, under RLS): it can only ever see the current tenant's row.
 */
export class CreateTenantCheckFunction1795478400008 implements MigrationInterface {
  name = 'CreateTenantCheckFunction1795478400008';

  async up(queryRunner: QueryRunner): Promise<void> {
    await boundMigrationWaits(queryRunner);
    await queryRunner.query(`
      CREATE FUNCTION fdl_require_active_tenant() RETURNS void
        LANGUAGE plpgsql
        STABLE
        SET search_path = pg_catalog, pg_temp
      AS $$
      DECLARE
        tenant_status text;
      BEGIN
        SELECT t.status INTO tenant_status
          FROM public.tenants t
          WHERE t.id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid;
        IF tenant_status IS DISTINCT FROM 'active' THEN
          RAISE EXCEPTION 'the tenant does not exist or is not active'
            USING ERRCODE = 'FDL03', DETAIL = coalesce(tenant_status, 'unknown');
        END IF;
      END
      $$`);
    await queryRunner.query(`REVOKE ALL ON FUNCTION fdl_require_active_tenant() FROM PUBLIC`);
    await queryRunner.query(`GRANT EXECUTE ON FUNCTION fdl_require_active_tenant() TO fdl_app`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION fdl_require_active_tenant()`);
  }
}

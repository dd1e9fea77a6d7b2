import { MigrationInterface, QueryRunner } from 'typeorm';
import { SYSTEM_TENANT_ID, tenantPolicyExpression } from '../tenancy/tenant-policy';
import { boundMigrationWaits } from './migration-timeouts';

/**
 * Creates the two database roles every tenant-scoped statement runs as, and the `tenants` table.
 *
 * `fdl_app` is what a request runs as (`SET LOCAL ROLE fdl_app`): it owns nothing and cannot bypass
 * Row Level Security, so isolation holds even when the login role is the table owner or a superuser.
 * `fdl_system` is the explicit path for work that is not one tenant's (creating a tenant, sweeps).
 * Roles are cluster-wide, so they are created only if absent and dropped only when no other
 * database still uses them.
 */
export class CreateTenants1795478400001 implements MigrationInterface {
  name = 'CreateTenants1795478400001';

  async up(queryRunner: QueryRunner): Promise<void> {
    await boundMigrationWaits(queryRunner);
    await queryRunner.query(`
      DO $$
      BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'fdl_app') THEN
          CREATE ROLE fdl_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
        END IF;
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'fdl_system') THEN
          CREATE ROLE fdl_system NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
        END IF;
      EXCEPTION WHEN insufficient_privilege THEN
        RAISE EXCEPTION 'roles fdl_app and fdl_system do not exist, and % may not create roles', current_user
          USING ERRCODE = 'insufficient_privilege',
                HINT = 'Have an administrator run sql/least-privilege-logins.sql first, or migrate as a role with CREATEROLE.';
      END
      $$`);
    // The simple layout (one login for migrations and requests) needs the login to be able to switch
    // to both roles. In the least-privilege layout the operator made the roles and the runtime's
    // logins beforehand (sql/least-privilege-logins.sql) and the owner needs no membership, nor the
    // right to grant it.
    await queryRunner.query(`
      DO $$
      BEGIN
        GRANT fdl_app, fdl_system TO CURRENT_USER;
      EXCEPTION WHEN insufficient_privilege THEN
        RAISE NOTICE '% is not made a member of fdl_app and fdl_system: it may not grant them', current_user;
      END
      $$`);
    await queryRunner.query(`GRANT USAGE ON SCHEMA public TO fdl_app, fdl_system`);
    // TypeORM's record of applied migrations (absent under psql and sqlx): the health check reads it
    // on the system path, since the runtime's login has no privilege of its own.
    await queryRunner.query(`
      DO $$
      BEGIN
        IF to_regclass('public.migrations') IS NOT NULL THEN
          GRANT SELECT ON public.migrations TO fdl_system;
        END IF;
      END
      $$`);

    await queryRunner.query(`
      CREATE TABLE tenants (
        id          uuid        NOT NULL DEFAULT gen_random_uuid(),
        name        text        NOT NULL,
        status      text        NOT NULL DEFAULT 'active',
        created_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT "PK_tenants" PRIMARY KEY (id),
        CONSTRAINT "CHK_tenants_id" CHECK (id <> '${SYSTEM_TENANT_ID}'),
        CONSTRAINT "CHK_tenants_name" CHECK (length(btrim(name)) BETWEEN 1 AND 200),
        CONSTRAINT "CHK_tenants_status" CHECK (status IN ('active', 'suspended'))
      )`);

    // Fail closed: no tenant set, no row (see tenantPolicyExpression).
    await queryRunner.query(`ALTER TABLE tenants ENABLE ROW LEVEL SECURITY`);
    await queryRunner.query(`ALTER TABLE tenants FORCE ROW LEVEL SECURITY`);
    await queryRunner.query(`
      CREATE POLICY tenants_tenant_isolation ON tenants
        FOR SELECT TO fdl_app
        USING (${tenantPolicyExpression('id')})`);
    await queryRunner.query(`
      CREATE POLICY tenants_system_access ON tenants
        FOR ALL TO fdl_system
        USING (true) WITH CHECK (true)`);
    await queryRunner.query(`GRANT SELECT ON tenants TO fdl_app`);
    await queryRunner.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON tenants TO fdl_system`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE tenants`);
    await queryRunner.query(`REVOKE USAGE ON SCHEMA public FROM fdl_app, fdl_system`);
    await queryRunner.query(`
      DO $$
      BEGIN
        DROP ROLE IF EXISTS fdl_app, fdl_system;
      EXCEPTION
        WHEN dependent_objects_still_exist THEN
          RAISE NOTICE 'roles fdl_app and fdl_system are kept: another database still uses them';
        WHEN insufficient_privilege THEN
          RAISE NOTICE 'roles fdl_app and fdl_system are kept: % may not drop them', current_user;
      END
      $$`);
  }
}

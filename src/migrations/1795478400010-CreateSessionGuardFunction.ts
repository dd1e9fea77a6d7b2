import { MigrationInterface, QueryRunner } from 'typeorm';
import { boundMigrationWaits } from './migration-timeouts';

/**
 * The session guard of every scoped transaction (SECURITY.md, "Session state"). PostgreSQL keeps
 * some state on a connection after the transaction that made it ends: prepared statements, temporary
 * relations, LISTEN channels, cursors WITH HOLD, session-level advisory locks. SQL injected into one
 * tenant's transaction could leave such state for the next borrower of the pooled connection: a
 * prepared statement under the name of one of the module's own, a temporary table that shadows
 * `flows`. The module sends this check right after BEGIN and the role switch, unnamed (so that no
 * impostor can stand in for it) and before any named statement is bound; when it raises, the server
 * skips the rest of the round trip and the module runs the transaction on a fresh connection.
 *
 * Session-level advisory locks are released rather than reported: finding them would read
 * `pg_locks`, which takes every lock partition's lock; releasing them is cheap, and a lock of the
 * module's own is always transaction-level. Everything is schema-qualified: a temporary relation
 * cannot stand in for a catalog view here either.
 */
export class CreateSessionGuardFunction1795478400010 implements MigrationInterface {
  name = 'CreateSessionGuardFunction1795478400010';

  async up(queryRunner: QueryRunner): Promise<void> {
    await boundMigrationWaits(queryRunner);
    await queryRunner.query(`
      CREATE FUNCTION fdl_assert_clean_session() RETURNS void
        LANGUAGE plpgsql
        VOLATILE
        SET search_path = pg_catalog, pg_temp
      AS $$
      DECLARE
        found text[] := '{}';
        temp_schema oid := pg_catalog.pg_my_temp_schema();
      BEGIN
        PERFORM pg_catalog.pg_advisory_unlock_all();
        IF EXISTS (SELECT FROM pg_catalog.pg_prepared_statements s WHERE s.from_sql) THEN
          found := found || 'prepared statements made with PREPARE'::text;
        END IF;
        IF temp_schema <> 0 AND EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.relnamespace = temp_schema) THEN
          found := found || 'temporary relations'::text;
        END IF;
        IF EXISTS (SELECT FROM pg_catalog.pg_listening_channels()) THEN
          found := found || 'LISTEN channels'::text;
        END IF;
        IF EXISTS (SELECT FROM pg_catalog.pg_cursors c WHERE c.is_holdable) THEN
          found := found || 'cursors WITH HOLD'::text;
        END IF;
        IF pg_catalog.cardinality(found) > 0 THEN
          RAISE EXCEPTION 'this connection holds session state left by an earlier transaction'
            USING ERRCODE = 'FDL04', DETAIL = pg_catalog.array_to_string(found, ', ');
        END IF;
      END
      $$`);
    await queryRunner.query(`REVOKE ALL ON FUNCTION fdl_assert_clean_session() FROM PUBLIC`);
    await queryRunner.query(`GRANT EXECUTE ON FUNCTION fdl_assert_clean_session() TO fdl_app, fdl_system`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION fdl_assert_clean_session()`);
  }
}

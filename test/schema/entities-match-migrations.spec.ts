import { DataSource } from 'typeorm';
import { DATABASE_ENTITIES } from '../../src/entities';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';

/**
 * What TypeORM's schema builder still proposes on a migrated database because the entities do not
 * declare these objects yet. None is a TypeORM limitation: each has a decorator in TypeORM 1.1
 * (`@Check`, `@ForeignKey` with composite columns, `@Index` with `unique`/`where`, and for the DESC
 * indexes, which `@Index` cannot describe, `@Index(name, { synchronize: false })`, TypeORM's documented
 * way to leave an index to migrations). The list may only shrink: the test also fails when an entry is
 * no longer proposed, so an entity that gains its decorator cannot leave a stale entry behind.
 */
const NOT_YET_DECLARED_IN_ENTITIES = [
  // Tenant: @Check('CHK_tenants_name', …), @Check('CHK_tenants_status', …)
  'ALTER TABLE "tenants" DROP CONSTRAINT "CHK_tenants_name"',
  'ALTER TABLE "tenants" DROP CONSTRAINT "CHK_tenants_status"',
  // Flow: @Check('CHK_flows_name', …), @ForeignKey('Tenant', ['tenantId'], ['id'], …),
  // @ForeignKey('FlowVersion', ['tenantId', 'id', 'currentVersionId'], ['tenantId', 'flowId', 'id'], …)
  'ALTER TABLE "flows" DROP CONSTRAINT "CHK_flows_name"',
  'ALTER TABLE "flows" DROP CONSTRAINT "FK_flows_tenant"',
  'ALTER TABLE "flows" DROP CONSTRAINT "FK_flows_current_version"',
  // FlowVersion: two @Check, @ForeignKey('Flow', ['tenantId', 'flowId'], ['tenantId', 'id'], …)
  'ALTER TABLE "flow_versions" DROP CONSTRAINT "CHK_flow_versions_version"',
  'ALTER TABLE "flow_versions" DROP CONSTRAINT "CHK_flow_versions_content_hash"',
  'ALTER TABLE "flow_versions" DROP CONSTRAINT "FK_flow_versions_flow"',
  // ExecutionSnapshot: three @Check, @ForeignKey('FlowVersion', …), two DESC indexes
  // (synchronize: false), the partial index (where: 'finished_at IS NOT NULL')
  'ALTER TABLE "execution_snapshots" DROP CONSTRAINT "CHK_execution_snapshots_status"',
  'ALTER TABLE "execution_snapshots" DROP CONSTRAINT "CHK_execution_snapshots_finished_at"',
  'ALTER TABLE "execution_snapshots" DROP CONSTRAINT "CHK_execution_snapshots_version"',
  'ALTER TABLE "execution_snapshots" DROP CONSTRAINT "FK_execution_snapshots_flow_version"',
  'DROP INDEX "public"."IDX_execution_snapshots_tenant_created"',
  'DROP INDEX "public"."IDX_execution_snapshots_tenant_status"',
  'DROP INDEX "public"."IDX_execution_snapshots_tenant_finished"',
  // ExecutionHistory: @Check, @ForeignKey('FlowVersion', …), one DESC index (synchronize: false)
  'ALTER TABLE "execution_history" DROP CONSTRAINT "CHK_execution_history_status"',
  'ALTER TABLE "execution_history" DROP CONSTRAINT "FK_execution_history_flow_version"',
  'DROP INDEX "public"."IDX_execution_history_tenant_completed"',
  // AuditLog: two @Check, one DESC index (synchronize: false), two unique indexes, one partial
  'ALTER TABLE "audit_logs" DROP CONSTRAINT "CHK_audit_logs_actor"',
  'ALTER TABLE "audit_logs" DROP CONSTRAINT "CHK_audit_logs_action"',
  'DROP INDEX "public"."IDX_audit_logs_tenant_created"',
  'DROP INDEX "public"."UQ_audit_logs_tenant_chain_position"',
  'DROP INDEX "public"."UQ_audit_logs_system_chain_position"',
];

describe('entities (DATABASE_ENTITIES)', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = await new DataSource({
      type: 'postgres',
      url: db.url,
      entities: DATABASE_ENTITIES,
      installExtensions: false,
      uuidExtension: 'pgcrypto',
    }).initialize();
  });
  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  it('match the migrated schema: TypeORM would change nothing beyond the objects listed as not yet declared', async () => {
    const proposed = (await dataSource.driver.createSchemaBuilder().log()).upQueries.map((query) => query.query);
    expect({
      undeclaredDifferences: proposed.filter((query) => !NOT_YET_DECLARED_IN_ENTITIES.includes(query)),
      staleListEntries: NOT_YET_DECLARED_IN_ENTITIES.filter((query) => !proposed.includes(query)),
    }).toEqual({ undeclaredDifferences: [], staleListEntries: [] });
  });
});

export { DatabaseModule } from './module/database.module';
export type { DatabaseModuleExtras, DatabaseModuleOptions, EntityClass, MigrationClass, TenantResolver } from './config/database-module-options';

export { loadDatabaseConfig, validateDatabaseConfig } from './config/database-config';
export type { DatabaseBackend, DatabaseConfig, DatabaseConfigOverrides } from './config/database-config';
export { DatabaseConfigError } from './config/database-config.error';
export { SchemaNotMigratedError } from './schema/schema-not-migrated.error';
export { startEmbeddedDatabase } from './embedded/start-embedded-database';
export type { EmbeddedDatabase } from './embedded/embedded-database';

export * from './entities';
export { DATABASE_MIGRATIONS } from './migrations';
export { migrationDataSourceOptions } from './migrations/migration-data-source-options';
export { MigrationDataSource } from './cli/migration-data-source';
export type { ApplicationSchema } from './migrations/migration-data-source-options';

export { tenantTable, distributeTenantTable } from './schema/tenant-table';
export type { TenantTableOptions, TenantTablePrivilege } from './schema/tenant-table';
export { CURRENT_TENANT_SETTING, SYSTEM_TENANT_ID, tenantPolicyExpression } from './tenancy/tenant-policy';
export { assertTenantIsolation, tenantTableViolations, TenantIsolationError } from './schema/tenant-isolation-check';
export type { CatalogQuery } from './schema/tenant-isolation-check';
export { runPendingMigrations, withMigrationLock } from './migrations/migration-lock';

export { TenancyService } from './tenant-context/tenancy.service';
export { TenantContextInterceptor } from './http/tenant-context.interceptor';
export { TenantScopedRepository } from './repositories/tenant-scoped.repository';
export { WithoutTenant } from './tenant-context/without-tenant.decorator';
export { parseTenantId } from './tenancy/tenant-id';
export { TENANT_COLUMN, assignTenant, tenantColumnOf } from './tenancy/tenant-column';
export {
  ConnectionHeldError,
  DatabaseUnavailableError,
  EntityNotStoredError,
  InvalidActorError,
  InvalidTenantIdError,
  TenancyError,
  TenantContextConflictError,
  TenantContextMissingError,
  TenantMismatchError,
  TenantNotFoundError,
  TenantThrottledError,
  TransactionRolledBackError,
} from './tenancy/tenancy.errors';

export { AuditTrail } from './audit/audit-trail.service';
export type { AuditChainVerification, AuditEntry, VerifyChainOptions } from './audit/audit-trail.service';
export { AuditDigestError } from './audit/audit-digest';
export type { AuditDigest } from './audit/audit-digest';
export type { ChainBreak, ChainBreakReason } from './audit/chain-verification';
export { FlowVersionsService } from './lifecycle/flow-versions.service';
export type { PublishResult } from './lifecycle/flow-versions.service';
export { ExecutionsService } from './lifecycle/executions.service';
export type { ExecutionPage, ListExecutionsOptions } from './lifecycle/executions.service';
export { ArchivalService } from './lifecycle/archival.service';
export type { ArchiveOptions, ArchiveResult } from './lifecycle/archival.service';
export { HistoryPartitionsService } from './lifecycle/history-partitions.service';
export { ALLOWED_TRANSITIONS } from './lifecycle/execution-transitions';
export { canonicalJson, contentHash } from './lifecycle/canonical-json';
export {
  ExecutionVersionConflictError,
  IllegalExecutionTransitionError,
  InvalidCursorError,
  LifecycleError,
  NotFoundInTenantError,
  WriteNotStoredError,
} from './lifecycle/lifecycle.errors';
export type { RunOptions } from './tenant-context/tenancy.service';
export { isUniqueViolation } from './cluster/unique-violation';
export { currentTenantId } from './tenant-context/current-tenant';
export { ObservabilityConfigError } from './observability/instrumentation-check';
export { DatabaseHealthIndicator } from './health/database-health.indicator';
export type { DatabaseHealthReport } from './health/database-health.indicator';

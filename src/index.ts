export { DatabaseModule } from './database.module';
export type { DatabaseModuleExtras, DatabaseModuleOptions, TenantResolver } from './database-module-options';

export { loadDatabaseConfig, validateDatabaseConfig } from './config/database-config';
export type { DatabaseBackend, DatabaseConfig } from './config/database-config';
export { DatabaseConfigError } from './config/database-config.error';

export * from './entities';
export { DATABASE_MIGRATIONS } from './migrations';
export { runPendingMigrations, withMigrationLock } from './migrations/migration-lock';

export { TenancyService } from './tenancy/tenancy.service';
export { TenantContextInterceptor } from './tenancy/tenant-context.interceptor';
export { TenantScopedRepository } from './tenancy/tenant-scoped.repository';
export { WithoutTenant } from './tenancy/without-tenant.decorator';
export { parseTenantId } from './tenancy/tenant-id';
export {
  DatabaseUnavailableError,
  InvalidTenantIdError,
  TenancyError,
  TenantContextConflictError,
  TenantContextMissingError,
  TenantNotFoundError,
  TransactionRolledBackError,
} from './tenancy/tenancy.errors';

import { tenantSchedulerProvider } from './tenant-scheduler.provider';
import { type DynamicModule, Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { DatabaseConfig } from '../config/database-config';
import type { DatabaseModuleExtras, DatabaseModuleOptions, EntityClass } from '../config/database-module-options';
import { ASYNC_OPTIONS_TYPE, ConfigurableDatabaseModule, OPTIONS_TYPE } from '../config/database.module-definition';
import { DATABASE_MODULE_OPTIONS, RESOLVED_DATABASE_CONFIG } from '../config/database.internal-constants';
import {
  createDataSource,
  repositoryProviders,
  resolvedConfigProvider,
  tenantRepositoryProviders,
  typeOrmOptions,
} from './database.providers';
import { DatabaseServer } from './database-server';
import { AuditTrail } from '../audit/audit-trail.service';
import { DatabaseHealthIndicator } from '../health/database-health.indicator';
import { ArchivalService } from '../lifecycle/archival.service';
import { ExecutionsService } from '../lifecycle/executions.service';
import { FlowVersionsService } from '../lifecycle/flow-versions.service';
import { HistoryPartitionsService } from '../lifecycle/history-partitions.service';
import { ClusterTopology } from '../cluster/cluster-topology';
import { PreparedStatements } from '../connection/prepared-statements';
import { SessionGuard } from '../connection/session-guard';
import { LoginRoleCheck } from '../security/login-role.check';
import { SchemaReadinessCheck } from '../schema/schema-readiness.check';
import { SystemDataSource } from '../connection/system-data-source';
import { DatabaseTelemetry } from '../observability/database-telemetry';
import { ObservabilityLifecycle } from '../observability/observability.lifecycle';
import { TenancyService } from '../tenant-context/tenancy.service';
import { TenantContext } from '../tenant-context/tenant-context';
import { TenantContextInterceptor } from '../http/tenant-context.interceptor';

/**
 * The FDL Runtime's PostgreSQL data layer: the six entities, tenant-scoped repositories for
 * `@InjectRepository`, {@link TenancyService}, {@link TenantContextInterceptor}, and the lifecycle
 * services (flow versions, executions, archival, history partitions, the audit trail).
 *
 * ```ts
 * @Module({ imports: [DatabaseModule.forRoot({ globalInterceptor: true })] })
 * export class AppModule {}
 * ```
 *
 * An application's own tables: their entities and migrations in the options
 * (`forRoot({ entities: [Comment], migrations: [CreateComments1800000000000] })`), and
 * `DatabaseModule.forFeature([Comment])` in the module whose providers inject the repository.
 */
@Module({})
export class DatabaseModule extends ConfigurableDatabaseModule {
  static forRoot(options: typeof OPTIONS_TYPE = {}): DynamicModule {
    return withDataLayer(super.forRoot(options), options);
  }

  static forRootAsync(options: typeof ASYNC_OPTIONS_TYPE): DynamicModule {
    return withDataLayer(super.forRootAsync(options), options);
  }

  /**
   * Tenant-scoped repositories for the application's own entities, for `@InjectRepository(Entity)`
   * (as `TypeOrmModule.forFeature` gives plain ones): every query runs in the request's tenant
   * transaction, and inserts fill `tenant_id`. Each entity must also be in the root options'
   * `entities`; the application fails at start otherwise.
   */
  static forFeature(entities: EntityClass[]): DynamicModule {
    const providers = tenantRepositoryProviders(entities);
    return {
      module: DatabaseModule,
      providers,
      exports: providers.map((provider) => (provider as { provide: unknown }).provide as never),
    };
  }
}

const lifecycleServices = [AuditTrail, FlowVersionsService, ExecutionsService, ArchivalService, HistoryPartitionsService, DatabaseHealthIndicator];

function withDataLayer(base: DynamicModule, extras: DatabaseModuleExtras): DynamicModule {
  const providers = [
    resolvedConfigProvider,
    DatabaseServer,
    TenantContext,
    SystemDataSource.provider,
    ClusterTopology.provider,
    PreparedStatements.provider,
    SessionGuard.provider,
    tenantSchedulerProvider,
    // Before the login check: on a database never migrated, its roles may not exist either.
    SchemaReadinessCheck,
    LoginRoleCheck,
    DatabaseTelemetry,
    ObservabilityLifecycle,
    TenancyService,
    TenantContextInterceptor,
    ...repositoryProviders,
    ...lifecycleServices,
  ];
  return {
    ...base,
    // Global like @nestjs/typeorm's core module: TypeORM's factory below reads the resolved config.
    global: true,
    imports: [
      ...(base.imports ?? []),
      TypeOrmModule.forRootAsync({
        inject: [RESOLVED_DATABASE_CONFIG, DATABASE_MODULE_OPTIONS, DatabaseServer],
        useFactory: async (config: DatabaseConfig, options: DatabaseModuleOptions, server: DatabaseServer) => ({
          ...typeOrmOptions(config, await server.url(), server.isEmbedded, options),
          migrationsRun: false,
          // carried to dataSourceFactory, which applies them under the migration lock (the embedded
          // database was migrated when it started)
          runMigrations: config.runMigrations === true && !server.isEmbedded,
        }),
        dataSourceFactory: async (options) =>
          createDataSource(options!, (options as { runMigrations?: boolean }).runMigrations === true),
      }),
    ],
    providers: [
      ...(base.providers ?? []),
      ...providers,
      ...(extras.globalInterceptor ? [{ provide: APP_INTERCEPTOR, useExisting: TenantContextInterceptor }] : []),
    ],
    exports: [
      ...(base.exports ?? []),
      DATABASE_MODULE_OPTIONS,
      RESOLVED_DATABASE_CONFIG,
      DatabaseServer,
      TenantContext,
      TenancyService,
      TenantContextInterceptor,
      ...lifecycleServices,
      ...repositoryProviders.map((provider) => (provider as { provide: unknown }).provide as never),
    ],
  };
}

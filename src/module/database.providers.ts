import { Logger, type Provider } from '@nestjs/common';
import { getDataSourceToken, getRepositoryToken, type TypeOrmModuleOptions } from '@nestjs/typeorm';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { type DatabaseConfig, loadDatabaseConfig, readBooleanOption } from '../config/database-config';
import { DatabaseConfigError } from '../config/database-config.error';
import type { DatabaseModuleOptions, EntityClass } from '../config/database-module-options';
import { DATABASE_MODULE_OPTIONS, RESOLVED_DATABASE_CONFIG } from '../config/database.internal-constants';
import { DATABASE_ENTITIES } from '../entities';
import { runPendingMigrations } from '../migrations/migration-lock';
import { NestTypeOrmLogger } from '../logging/nest-typeorm.logger';
import { recordMigrationsApplied } from '../observability/migration-metrics';
import { type ApplicationSchema, migrationDataSourceOptions } from '../migrations/migration-data-source-options';
import { guardConnections } from '../tenant-context/connection-guard';
import { TenantColumnSubscriber } from '../repositories/tenant-column.subscriber';
import { TenantContext } from '../tenant-context/tenant-context';
import { TenantScopedRepository } from '../repositories/tenant-scoped.repository';

/** Module options merged over the environment and validated, once, at start. */
export const resolvedConfigProvider: Provider = {
  provide: RESOLVED_DATABASE_CONFIG,
  inject: [DATABASE_MODULE_OPTIONS],
  useFactory: (options: DatabaseModuleOptions): DatabaseConfig => {
    // Checked here, before TypeORM's factory (which injects this) starts connecting: a start that
    // fails on a typo must not leave a connection attempt retrying behind it.
    for (const option of BOOLEAN_OPTIONS) readBooleanOption(options[option], option);
    return loadDatabaseConfig(options.readEnvironment === false ? {} : process.env, {
      useDatabase: options.useDatabase,
      url: options.url,
      systemUrl: options.systemUrl,
      dataDir: options.dataDir,
      poolSize: options.poolSize,
      queryTimeout: options.queryTimeout,
      acquireTimeout: options.acquireTimeout,
      idleInTransactionTimeout: options.idleInTransactionTimeout,
      slowQueryThreshold: options.slowQueryThreshold,
      auditDigestKey: options.auditDigestKey,
      tenantShare: options.tenantShare,
      tenantQueue: options.tenantQueue,
      runMigrations: options.runMigrations,
    });
  },
};

/** The module's boolean options that have no environment variable (those that do are read with it). */
const BOOLEAN_OPTIONS = ['preparedStatements', 'tenantIdOnSpans', 'tenantIdOnMetrics', 'citus'] as const;

/** TypeORM's options for the resolved configuration. */
export function typeOrmOptions(
  config: DatabaseConfig,
  url: string,
  embedded = false,
  app: ApplicationSchema = {},
): TypeOrmModuleOptions & DataSourceOptions {
  return {
    // The schema a migration run sees: the library's entities and migrations, then the application's.
    ...migrationDataSourceOptions(url, app),
    synchronize: false,
    // PGlite has a single backend: one connection keeps its clients' statements from interleaving.
    poolSize: embedded ? 1 : config.poolSize,
    extra: {
      // pg-pool applies this to waiting for a free client too: the bound on pool exhaustion.
      connectionTimeoutMillis: Math.round(config.acquireTimeout * 1000),
      application_name: 'fdl-runtime-db',
    },
    retryAttempts: 2,
    retryDelay: 1000,
    logger: new NestTypeOrmLogger(),
    maxQueryExecutionTime: Math.round(config.slowQueryThreshold * 1000),
  };
}

/**
 * Creates and initialises the DataSource, with writes filling `tenant_id` from the tenant context
 * and the guard against waiting for a second connection; applies pending migrations when asked to.
 */
export async function createDataSource(
  options: DataSourceOptions,
  migrate: boolean,
): Promise<DataSource> {
  const dataSource = await new DataSource(options).initialize();
  const context = new TenantContext();
  dataSource.subscribers.push(new TenantColumnSubscriber(context));
  guardConnections(dataSource, context, (options as { poolSize?: number }).poolSize ?? 10);
  if (migrate) {
    try {
      const applied = await runPendingMigrations(dataSource);
      recordMigrationsApplied(applied.length);
      new Logger('DatabaseModule').log(
        applied.length ? `Applied migrations: ${applied.map((m) => m.name).join(', ')}` : 'Migrations up to date',
      );
    } catch (error) {
      await dataSource.destroy();
      throw error;
    }
  }
  return dataSource;
}

/** `@InjectRepository(Entity)` for each entity: tenant-scoped singletons. */
export function tenantRepositoryProviders(entities: EntityClass[]): Provider[] {
  return entities.map((entity) => ({
    provide: getRepositoryToken(entity),
    inject: [getDataSourceToken(), TenantContext],
    useFactory: (dataSource: DataSource, context: TenantContext) => {
      // Without this, the application starts and every query fails with "No metadata for …".
      if (!dataSource.hasMetadata(entity)) {
        throw new DatabaseConfigError(
          `${entity.name} is not an entity of the module's DataSource: add it to DatabaseModule.forRoot({ entities: [${entity.name}] }) ` +
            '(or to the options forRootAsync returns)',
        );
      }
      return new TenantScopedRepository(entity, dataSource, context);
    },
  }));
}

/** The library's own entities' repositories. */
export const repositoryProviders: Provider[] = tenantRepositoryProviders(DATABASE_ENTITIES);

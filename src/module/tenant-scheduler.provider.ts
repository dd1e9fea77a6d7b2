import type { Provider } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { DatabaseConfig } from '../config/database-config';
import type { DatabaseModuleOptions } from '../config/database-module-options';
import { DATABASE_MODULE_OPTIONS, RESOLVED_DATABASE_CONFIG } from '../config/database.internal-constants';
import { DatabaseTelemetry } from '../observability/database-telemetry';
import { TenantScheduler } from '../fairness/tenant-scheduler';

/** The scheduler of the module's pool: as many turns as the pool has connections (one, embedded). */
export const tenantSchedulerProvider: Provider = {
  provide: TenantScheduler,
  inject: [DataSource, RESOLVED_DATABASE_CONFIG, DATABASE_MODULE_OPTIONS, DatabaseTelemetry],
  useFactory: (dataSource: DataSource, config: DatabaseConfig, options: DatabaseModuleOptions, telemetry: DatabaseTelemetry) =>
    new TenantScheduler(
      {
        permits: (dataSource.options as { poolSize?: number }).poolSize ?? config.poolSize,
        share: config.tenantShare,
        shareOf: options.tenantShareOf,
        maxWaiting: config.tenantQueue,
        maxWaitMs: config.acquireTimeout * 1000,
      },
      telemetry.fairnessObserver(),
    ),
};

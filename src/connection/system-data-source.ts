import type { OnApplicationShutdown } from '@nestjs/common';
import type { Provider } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import { DataSource, type DataSourceOptions } from 'typeorm';
import type { DatabaseConfig } from '../config/database-config';
import { RESOLVED_DATABASE_CONFIG } from '../config/database.internal-constants';

/** Connections of the system path when it has a login of its own: sweeps and upkeep, not requests. */
const SYSTEM_POOL_SIZE = 2;

/**
 * The DataSource the system path runs on: the module's own, or, with `systemUrl`, a second pool
 * logged in as a role that alone may become `fdl_system`.
 */
export class SystemDataSource implements OnApplicationShutdown {
  constructor(
    readonly dataSource: DataSource,
    readonly isSeparate: boolean,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.isSeparate && this.dataSource.isInitialized) await this.dataSource.destroy();
  }

  static readonly provider: Provider = {
    provide: SystemDataSource,
    inject: [RESOLVED_DATABASE_CONFIG, getDataSourceToken()],
    useFactory: async (config: DatabaseConfig, dataSource: DataSource): Promise<SystemDataSource> => {
      if (!config.systemUrl) return new SystemDataSource(dataSource, false);
      const options = { ...dataSource.options, url: config.systemUrl, poolSize: SYSTEM_POOL_SIZE } as DataSourceOptions;
      return new SystemDataSource(await new DataSource(options).initialize(), true);
    },
  };
}

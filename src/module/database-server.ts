import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { getDataSourceToken } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { DatabaseConfig } from '../config/database-config';
import type { DatabaseModuleOptions, StartedEmbeddedDatabase } from '../config/database-module-options';
import { DATABASE_MODULE_OPTIONS, RESOLVED_DATABASE_CONFIG } from '../config/database.internal-constants';
import { EmbeddedDatabase } from '../embedded/embedded-database';
import { recordMigrationsApplied } from '../observability/migration-metrics';
import { type ApplicationSchema, migrationDataSourceOptions } from '../migrations/migration-data-source-options';

/**
 * The PostgreSQL the module talks to: the server at DATABASE_URL, or the embedded one it starts
 * (and migrates) for development when FDL_USE_DATABASE is not true.
 */
@Injectable()
export class DatabaseServer implements OnApplicationShutdown {
  private readonly logger = new Logger('DatabaseModule');
  private resolved?: Promise<string>;
  private embedded?: StartedEmbeddedDatabase;

  constructor(
    @Inject(RESOLVED_DATABASE_CONFIG) private readonly config: DatabaseConfig,
    @Inject(DATABASE_MODULE_OPTIONS) private readonly options: DatabaseModuleOptions,
    private readonly moduleRef: ModuleRef,
  ) {}

  get isEmbedded(): boolean {
    return this.config.backend === 'embedded';
  }

  url(): Promise<string> {
    return (this.resolved ??= this.isEmbedded ? this.startEmbedded() : this.useServer());
  }

  private async useServer(): Promise<string> {
    if (this.options.embeddedDatabase) {
      // startEmbeddedDatabase() read the environment before the application had its configuration
      // (typically before @nestjs/config loaded .env): an early start the configuration does not
      // want is a guess that did not pay, not an error.
      await this.options.embeddedDatabase.stop();
      this.logger.log('Stopped the embedded database started before the configuration was read (startEmbeddedDatabase()): the module is configured for a server');
    }
    this.logger.log(`Using PostgreSQL at ${redactUrl(this.config.url!)} (pool ${this.config.poolSize})`);
    return this.config.url!;
  }

  private async startEmbedded(): Promise<string> {
    const started = Date.now();
    let given = this.options.embeddedDatabase;
    if (given && given.dataDir !== this.config.dataDir) {
      // As in useServer(): started on another FDL_DATA_DIR than the configuration gives.
      await given.stop();
      this.logger.log(
        `Stopped the embedded database started before the configuration was read (startEmbeddedDatabase()): it kept its data ${where(given.dataDir)}, the module is configured to keep it ${where(this.config.dataDir)}`,
      );
      given = undefined;
    }
    const embedded = (this.embedded = given ?? EmbeddedDatabase.launch({ dataDir: this.config.dataDir }));
    const appMigrations = this.options.migrations ?? [];
    const { url, startedFrom } = await embedded.ready({
      prepare: (url) => migrateEmbedded(url),
      afterSnapshot: appMigrations.length ? (url) => migrateEmbedded(url, { migrations: appMigrations }) : undefined,
      log: (message) => this.logger.warn(message),
    });
    this.logger.log(
      `Using embedded PostgreSQL (PGlite, ${this.config.dataDir ? `data in ${this.config.dataDir}` : 'in memory'}; ` +
        `${startedFrom}, ready in ${Date.now() - started} ms${given ? ' after the module asked' : ''}). ` +
        'Set FDL_USE_DATABASE=true and DATABASE_URL for a real server.',
    );
    return url;
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.embedded) return;
    // The pool first, then the socket server and PGlite: the data directory is left consistent.
    const dataSource = this.moduleRef.get<DataSource>(getDataSourceToken() as never, { strict: false });
    if (dataSource?.isInitialized) await dataSource.destroy();
    await this.embedded.stop();
  }
}

const where = (dataDir: string | undefined) => (dataDir ? `in ${dataDir}` : 'in memory');

/**
 * The embedded database has one process by construction: no migration lock is needed. Without
 * `app`, the library's migrations (what the shared snapshot holds); with it, the application's too,
 * which then are all that is pending.
 */
async function migrateEmbedded(url: string, app?: ApplicationSchema): Promise<void> {
  const dataSource = await new DataSource({ ...migrationDataSourceOptions(url, app), poolSize: 1 }).initialize();
  try {
    recordMigrationsApplied((await dataSource.runMigrations({ transaction: 'all' })).length);
  } finally {
    await dataSource.destroy();
  }
}

/** The URL without its password, for logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparseable url>';
  }
}

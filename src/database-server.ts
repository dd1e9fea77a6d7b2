import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { getDataSourceToken } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { DatabaseConfig } from './config/database-config';
import { RESOLVED_DATABASE_CONFIG } from './database.internal-constants';
import { DATABASE_MIGRATIONS } from './migrations';
import { migrationDataSourceOptions } from './migrations/migration-data-source-options';
import type { EmbeddedPostgres } from './embedded/embedded-postgres';

/**
 * The PostgreSQL the module talks to: the server at DATABASE_URL, or the embedded one it starts
 * (and migrates) for development when FDL_USE_DATABASE is not true.
 */
@Injectable()
export class DatabaseServer implements OnApplicationShutdown {
  private readonly logger = new Logger('DatabaseModule');
  private resolved?: Promise<string>;
  private embedded?: EmbeddedPostgres;

  constructor(
    @Inject(RESOLVED_DATABASE_CONFIG) private readonly config: DatabaseConfig,
    private readonly moduleRef: ModuleRef,
  ) {}

  get isEmbedded(): boolean {
    return this.config.backend === 'embedded';
  }

  url(): Promise<string> {
    return (this.resolved ??= this.isEmbedded ? this.startEmbedded() : this.useServer());
  }

  private async useServer(): Promise<string> {
    this.logger.log(`Using PostgreSQL at ${redactUrl(this.config.url!)} (pool ${this.config.poolSize})`);
    return this.config.url!;
  }

  private async startEmbedded(): Promise<string> {
    const started = Date.now();
    const { startEmbeddedPostgres } = await import('./embedded/embedded-postgres');
    this.embedded = await startEmbeddedPostgres({
      dataDir: this.config.dataDir,
      snapshotKey: migrationsKey(),
      prepare: (url) => migrateEmbedded(url),
      log: (message) => this.logger.warn(message),
    });
    this.logger.log(
      `Using embedded PostgreSQL (PGlite, ${this.config.dataDir ? `data in ${this.config.dataDir}` : 'in memory'}; ` +
        `${this.embedded.startedFrom}, ready in ${Date.now() - started} ms). Set FDL_USE_DATABASE=true and DATABASE_URL for a real server.`,
    );
    return this.embedded.url;
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.embedded) return;
    // The pool first, then the socket server and PGlite: the data directory is left consistent.
    const dataSource = this.moduleRef.get<DataSource>(getDataSourceToken() as never, { strict: false });
    if (dataSource?.isInitialized) await dataSource.destroy();
    await this.embedded.stop();
  }
}

/** Names the schema the migrations produce, so a snapshot is only reused for the same migrations. */
function migrationsKey(): string {
  // The package's exports hide its package.json: find it next to the resolved entry point.
  const entry = require.resolve('@electric-sql/pglite');
  const pglite = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')).version as string;
  return createHash('sha256')
    .update([pglite, ...DATABASE_MIGRATIONS.map((migration) => migration.name)].join('\n'))
    .digest('hex')
    .slice(0, 16);
}

/** The embedded database has one process by construction: no migration lock is needed. */
async function migrateEmbedded(url: string): Promise<void> {
  const dataSource = await new DataSource({ ...migrationDataSourceOptions(url), poolSize: 1 }).initialize();
  try {
    await dataSource.runMigrations({ transaction: 'all' });
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

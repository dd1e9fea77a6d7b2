import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { DatabaseConfig } from '../config/database-config';
import { RESOLVED_DATABASE_CONFIG } from '../config/database.internal-constants';
import { DATABASE_TABLES } from '../entities';
import { SchemaNotMigratedError } from './schema-not-migrated.error';

/** What the tenant prelude calls: without them every tenant request fails. */
const PRELUDE_FUNCTIONS = ['fdl_require_active_tenant()', 'fdl_assert_clean_session()'];

const HOW_TO_MIGRATE =
  'apply the migrations first: `npm run migration:run` (your data-source.ts), or start once with runMigrations: true (FDL_RUN_MIGRATIONS=true)';

/**
 * At start, after any migrations the module applied itself: refuses to start on a database that
 * lacks the tables or functions every request needs, naming what is missing and how to migrate,
 * instead of starting and answering every request 500 (`function fdl_require_active_tenant() does
 * not exist`). Where the login may read the migrations table, warns of the migrations known to
 * the application that the database has not run yet (a deployment whose new code started first).
 */
@Injectable()
export class SchemaReadinessCheck implements OnModuleInit {
  private readonly logger = new Logger('DatabaseModule');

  constructor(
    private readonly dataSource: DataSource,
    @Inject(RESOLVED_DATABASE_CONFIG) private readonly config: DatabaseConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    // The embedded database migrates itself whenever it starts.
    if (this.config.backend === 'embedded') return;
    const missing = await this.missingObjects();
    if (missing.length) {
      throw new SchemaNotMigratedError(`the database at DATABASE_URL is not migrated (missing: ${missing.join(', ')}): ${HOW_TO_MIGRATE}`);
    }
    const pending = await this.pendingMigrations();
    if (pending?.length) {
      this.logger.warn(`${pending.length} migration(s) not applied yet: ${pending.join(', ')}; ${HOW_TO_MIGRATE}`);
    }
  }

  /** The schema's tables and the prelude's functions that do not exist; catalog reads need no privilege. */
  private async missingObjects(): Promise<string[]> {
    const [{ missing }] = await this.dataSource.query(
      `SELECT ARRAY(SELECT 'table ' || t FROM unnest($1::text[]) t WHERE to_regclass('public.' || t) IS NULL
                    UNION ALL
                    SELECT 'function ' || f FROM unnest($2::text[]) f WHERE to_regprocedure('public.' || f) IS NULL) AS missing`,
      [DATABASE_TABLES, PRELUDE_FUNCTIONS],
    );
    return missing as string[];
  }

  /** Migrations of the application's list that the database has not run; undefined where the login may not read that. */
  private async pendingMigrations(): Promise<string[] | undefined> {
    const table = this.dataSource.options.migrationsTableName ?? 'migrations';
    const [{ readable }] = await this.dataSource.query(
      `SELECT to_regclass($1) IS NOT NULL AND has_table_privilege(to_regclass($1), 'SELECT') AS readable`,
      [table],
    );
    if (!readable) return undefined;
    const applied = new Set(
      ((await this.dataSource.query(`SELECT name FROM ${this.dataSource.driver.escape(table)}`)) as { name: string }[]).map((row) => row.name),
    );
    return this.dataSource.migrations.map((migration) => migration.name ?? migration.constructor.name).filter((name) => !applied.has(name));
  }
}

import { Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { SystemDataSource } from '../connection/system-data-source';

/** What the database looks like from this process. */
export interface DatabaseHealthReport {
  healthy: boolean;
  /** A `SELECT 1` through the pool answered. */
  reachable: boolean;
  /** Migrations not yet applied (null when the server could not be asked). */
  pendingMigrations: boolean | null;
  pool: { size: number; open: number; idle: number; waiting: number; saturation: number };
  error?: string;
}

interface TerminusIndicatorService {
  check(key: string): { up(data: object): unknown; down(data: object): unknown };
}

/**
 * Database health for `@nestjs/terminus` (an optional peer): reachability, pending migrations and
 * pool saturation. `report()` needs nothing but the module; `isHealthy()` needs TerminusModule
 * imported by the application, and loads terminus only when called.
 */
@Injectable()
export class DatabaseHealthIndicator {
  constructor(
    private readonly dataSource: DataSource,
    private readonly system: SystemDataSource,
    private readonly moduleRef: ModuleRef,
  ) {}

  async report(): Promise<DatabaseHealthReport> {
    const pool = (this.dataSource.driver as unknown as { master?: Pool }).master;
    const size = (pool?.options as { max?: number } | undefined)?.max ?? 0;
    const stats = {
      size,
      open: pool?.totalCount ?? 0,
      idle: pool?.idleCount ?? 0,
      waiting: pool?.waitingCount ?? 0,
      saturation: size ? ((pool?.totalCount ?? 0) - (pool?.idleCount ?? 0)) / size : 0,
    };
    try {
      await this.dataSource.query('SELECT 1');
      const pendingMigrations = await this.hasPendingMigrations();
      return { healthy: !pendingMigrations, reachable: true, pendingMigrations, pool: stats };
    } catch (error) {
      return { healthy: false, reachable: false, pendingMigrations: null, pool: stats, error: (error as Error).message };
    }
  }

  /**
   * Compares the DataSource's migrations with those recorded as applied, as fdl_system: in the
   * least-privilege layout the runtime's login may read nothing by itself.
   */
  private async hasPendingMigrations(): Promise<boolean> {
    const runner = this.system.dataSource.createQueryRunner();
    try {
      await runner.startTransaction();
      await runner.query(`SELECT set_config('role', 'fdl_system', true)`);
      const exists = (await runner.query(`SELECT to_regclass('public.migrations') IS NOT NULL AS exists`))[0].exists;
      const applied = new Set<string>(exists ? (await runner.query('SELECT name FROM public.migrations')).map((row: { name: string }) => row.name) : []);
      return this.dataSource.migrations.some((migration) => !applied.has(migration.name ?? migration.constructor.name));
    } finally {
      if (runner.isTransactionActive) await runner.rollbackTransaction();
      await runner.release();
    }
  }

  /** A terminus indicator result under `key`: up when reachable with no pending migration. */
  async isHealthy(key = 'database'): Promise<unknown> {
    const { HealthIndicatorService } = require('@nestjs/terminus') as { HealthIndicatorService: new () => TerminusIndicatorService };
    const indicator = this.moduleRef.get(HealthIndicatorService, { strict: false }).check(key);
    const { healthy, ...details } = await this.report();
    return healthy ? indicator.up(details) : indicator.down(details);
  }
}

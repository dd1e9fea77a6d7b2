import { Logger } from '@nestjs/common';
import type { Logger as TypeOrmLogger } from 'typeorm';

/**
 * TypeORM's logging through Nest's Logger, as the module sees fit: slow queries as warnings
 * (parameters left out: they may hold tenant data), migrations as log lines, failed queries at
 * debug level (the caller gets and handles the error).
 */
export class NestTypeOrmLogger implements TypeOrmLogger {
  private readonly logger = new Logger('DatabaseModule');

  logQuerySlow(time: number, query: string): void {
    this.logger.warn(`slow query (${time} ms): ${query.replace(/\s+/g, ' ').slice(0, 500)}`);
  }

  logQueryError(error: string | Error, query: string): void {
    this.logger.debug(`query failed: ${error instanceof Error ? error.message : error} (${query.replace(/\s+/g, ' ').slice(0, 200)})`);
  }

  logMigration(message: string): void {
    this.logger.log(message);
  }

  logQuery(): void {}

  logSchemaBuild(): void {}

  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    if (level === 'warn') this.logger.warn(String(message));
  }
}

import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { DatabaseConfig } from './config/database-config';
import { RESOLVED_DATABASE_CONFIG } from './database.internal-constants';

/**
 * The PostgreSQL the module talks to: the server at DATABASE_URL, or the embedded one it starts.
 */
@Injectable()
export class DatabaseServer implements OnApplicationShutdown {
  private readonly logger = new Logger('DatabaseModule');
  private resolved?: Promise<string>;

  constructor(@Inject(RESOLVED_DATABASE_CONFIG) private readonly config: DatabaseConfig) {}

  url(): Promise<string> {
    return (this.resolved ??= this.start());
  }

  private async start(): Promise<string> {
    if (this.config.backend === 'postgres') {
      this.logger.log(`Using PostgreSQL at ${redactUrl(this.config.url!)} (pool ${this.config.poolSize})`);
      return this.config.url!;
    }
    throw new Error('the embedded backend is not available yet');
  }

  async onApplicationShutdown(): Promise<void> {}
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

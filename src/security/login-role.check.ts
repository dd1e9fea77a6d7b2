import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { DatabaseConfig } from '../config/database-config';
import { DatabaseConfigError } from '../config/database-config.error';
import { RESOLVED_DATABASE_CONFIG } from '../config/database.internal-constants';
import { SystemDataSource } from '../connection/system-data-source';
import { inspectLoginRole, judgeLoginRole, type LoginPurpose } from './login-role';

/**
 * At start, checks the logins the module connects with against the least-privilege layout: refuses
 * to start when a login cannot switch to the role it serves, and warns, naming the risk, when it
 * can do more than it needs. The embedded development database has a single superuser login by
 * construction and is not checked.
 */
@Injectable()
export class LoginRoleCheck implements OnModuleInit {
  private readonly logger = new Logger('DatabaseModule');

  constructor(
    private readonly dataSource: DataSource,
    private readonly system: SystemDataSource,
    @Inject(RESOLVED_DATABASE_CONFIG) private readonly config: DatabaseConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    if (this.config.backend === 'embedded') return;
    const logins: [DataSource, LoginPurpose, string][] = this.system.isSeparate
      ? [
          [this.dataSource, 'tenant', 'DATABASE_URL'],
          [this.system.dataSource, 'system', 'FDL_SYSTEM_DATABASE_URL'],
        ]
      : [[this.dataSource, 'both', 'DATABASE_URL']];
    const errors: string[] = [];
    for (const [dataSource, purpose, variable] of logins) {
      const role = await inspectLoginRole(dataSource);
      const findings = judgeLoginRole(role, purpose, variable);
      errors.push(...findings.errors);
      for (const warning of findings.warnings) this.logger.warn(warning);
      if (!findings.errors.length && !findings.warnings.length) {
        this.logger.log(`${variable} logs in as "${role.name}": least privilege (owns nothing, no privileges of its own)`);
      }
    }
    if (errors.length) throw new DatabaseConfigError(errors.join('; '));
  }
}

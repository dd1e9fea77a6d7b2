import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { RESOLVED_DATABASE_CONFIG } from '../config/database.internal-constants';
import type { DatabaseConfig } from '../config/database-config';
import { ClusterTopology } from '../cluster/cluster-topology';
import { DatabaseTelemetry } from '../observability/database-telemetry';
import { type DatabaseScope, sameScope } from '../tenancy/database-scope';
import { PreparedStatements } from '../connection/prepared-statements';
import { SessionGuard } from '../connection/session-guard';
import { ScopedTransaction } from '../transaction/scoped-transaction';
import { SystemDataSource } from '../connection/system-data-source';
import { TenantContext } from './tenant-context';
import { parseTenantId } from '../tenancy/tenant-id';
import { parseActor } from '../tenancy/actor';
import { TenantContextConflictError } from '../tenancy/tenancy.errors';
import { TenantScheduler } from '../fairness/tenant-scheduler';

/** Options of {@link TenancyService.runInTenant} and {@link TenancyService.runAsSystem}. */
export interface RunOptions {
  /** Who acts, recorded by the audit trail. Default: `'system'` on the system path, else `'unknown'`. */
  actor?: string;
}

/**
 * Runs work inside a tenant's (or the system's) transaction outside HTTP: queue consumers,
 * schedulers, scripts. The interceptor uses the same path for requests.
 */
@Injectable()
export class TenancyService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly system: SystemDataSource,
    private readonly context: TenantContext,
    @Inject(RESOLVED_DATABASE_CONFIG) private readonly config: DatabaseConfig,
    private readonly telemetry: DatabaseTelemetry,
    private readonly topology: ClusterTopology,
    private readonly prepared: PreparedStatements,
    private readonly sessionGuard: SessionGuard,
    private readonly scheduler: TenantScheduler,
  ) {}

  /**
   * Runs `work` as tenant `tenantId`: every injected repository it uses runs in one transaction,
   * as role `fdl_app` with the tenant set, committed when `work` resolves and rolled back when it
   * throws. Inside an open transaction of the same tenant, `work` joins it.
   */
  async runInTenant<T>(tenantId: string, work: () => T | Promise<T>, options: RunOptions = {}): Promise<T> {
    return this.runInScope({ kind: 'tenant', tenantId: parseTenantId(tenantId) }, work, options.actor);
  }

  /**
   * Runs `work` as the system (role `fdl_system`): the explicit, audited path for work that is no
   * single tenant's, such as creating a tenant or a sweep over all tenants. Never the default.
   */
  runAsSystem<T>(work: () => T | Promise<T>, options: RunOptions = {}): Promise<T> {
    return this.runInScope({ kind: 'system' }, work, options.actor);
  }

  /** The tenant of the current context; undefined outside one or in the system context. */
  currentTenantId(): string | undefined {
    const scope = this.context.current()?.scope;
    return scope?.kind === 'tenant' ? scope.tenantId : undefined;
  }

  /** @internal Shared by runInTenant, runAsSystem and TenantContextInterceptor. */
  async runInScope<T>(scope: DatabaseScope, work: () => T | Promise<T>, actor?: string): Promise<T> {
    const checkedActor = parseActor(actor);
    const open = this.context.current();
    if (open) {
      if (!sameScope(open.scope, scope)) throw new TenantContextConflictError();
      return work();
    }
    const dataSource = scope.kind === 'system' ? this.system.dataSource : this.dataSource;
    const transaction = new ScopedTransaction(dataSource, scope, {
      statementMs: this.config.queryTimeout * 1000,
      idleInTransactionMs: this.config.idleInTransactionTimeout * 1000,
    }, checkedActor, this.telemetry, this.topology.preludeForm, this.prepared, this.sessionGuard, this.config.backend === 'embedded',
    // A system path with a pool of its own (systemUrl) shares it with nobody.
    dataSource === this.dataSource ? this.scheduler : undefined);
    const finished = this.telemetry.transactionStarted(scope);
    return this.context.run(transaction, async () => {
      let result: T;
      try {
        result = await work();
      } catch (error) {
        // A refused tenant or a lost connection makes every statement fail: report the cause.
        const cause = await transaction.failureCause();
        await transaction.end(false).finally(() => finished(cause ?? error));
        throw cause ?? error;
      }
      await transaction.end(true).then(() => finished(), (error: unknown) => (finished(error), Promise.reject(error)));
      return result;
    });
  }
}

import { Logger, type Provider } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { isGiven, readBooleanOption } from '../config/database-config';
import type { DatabaseModuleOptions } from '../database-module-options';
import { DATABASE_MODULE_OPTIONS } from '../database.internal-constants';
import type { PreludeForm } from '../tenancy/prelude';

/**
 * Whether the module talks to one PostgreSQL node or to the coordinator of a Citus cluster, decided
 * once at start: the `citus` option when given, otherwise whether the `citus` extension exists in the
 * connected database. What differs between the two lives in the prelude (tenancy/prelude.ts) and,
 * for the lifecycle services' audited writes, in lifecycle/audited-write.ts; the routing predicate
 * (tenancy/routing-predicate.ts) is the same on both.
 */
export class ClusterTopology {
  constructor(
    readonly preludeForm: PreludeForm,
    /**
     * A connection pooler (PgBouncer, …) stands between the module and PostgreSQL: the server session
     * a transaction lands on is not its client connection's, so nothing about it can be vouched for
     * (tenancy/session-guard.ts).
     */
    readonly behindPooler = false,
  ) {}

  get isCitus(): boolean {
    return this.preludeForm === 'citus';
  }

  static async detect(dataSource: DataSource, forced: boolean | undefined): Promise<ClusterTopology> {
    const detected = forced === undefined ? await hasCitusExtension(dataSource) : undefined;
    const citus = forced ?? detected!;
    const why = forced === undefined ? `the citus extension is ${detected ? '' : 'not '}installed` : `forced by the citus option`;
    const logger = new Logger('DatabaseModule');
    logger.log(
      citus
        ? `Citus coordinator (${why}): the tenant prelude sends SET LOCAL app.current_tenant_id so the workers see the tenant`
        : `Single PostgreSQL node (${why})`,
    );
    const cannotLogIn = citus ? await rolesThatCannotLogIn(dataSource) : [];
    if (cannotLogIn.length > 0) {
      logger.warn(
        `${cannotLogIn.join(' and ')} cannot log in: on Citus the coordinator connects to the workers as the transaction's role, ` +
          `so requests that use it will answer 503 until an operator gives it LOGIN and credentials (README "Scaling out with Citus")`,
      );
    }
    const pooled = await behindPooler(dataSource);
    if (pooled) logger.log('Connected through a connection pooler: every transaction checks its server session for state left by another');
    return new ClusterTopology(citus ? 'citus' : 'single-node', pooled);
  }

  static readonly provider: Provider = {
    provide: ClusterTopology,
    inject: [getDataSourceToken(), DATABASE_MODULE_OPTIONS],
    useFactory: (dataSource: DataSource, options: DatabaseModuleOptions) => {
      return ClusterTopology.detect(dataSource, isGiven(options.citus) ? readBooleanOption(options.citus, 'citus') : undefined);
    },
  };
}

/**
 * A pooler answers the startup with key data of its own (the cancel key it maps to a server
 * connection): the process id it gives is not the server session's `pg_backend_pid()`.
 */
async function behindPooler(dataSource: DataSource): Promise<boolean> {
  const runner = dataSource.createQueryRunner();
  try {
    const client = (await runner.connect()) as { processID?: number; query(text: string): Promise<{ rows: { pid: number }[] }> };
    const { rows } = await client.query('SELECT pg_backend_pid() AS pid');
    return client.processID !== undefined && client.processID !== null && rows[0].pid !== client.processID;
  } finally {
    await runner.release();
  }
}

async function hasCitusExtension(dataSource: DataSource): Promise<boolean> {
  const [row] = (await dataSource.query(`SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS citus`)) as { citus: boolean }[];
  return row.citus === true;
}

/** The roles tenant and system transactions switch to that lack LOGIN (Citus propagates it to the workers). */
async function rolesThatCannotLogIn(dataSource: DataSource): Promise<string[]> {
  const rows = (await dataSource.query(
    `SELECT rolname FROM pg_roles WHERE rolname IN ('fdl_app', 'fdl_system') AND NOT rolcanlogin ORDER BY rolname`,
  )) as { rolname: string }[];
  return rows.map((row) => row.rolname);
}

import { Logger, type Provider } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { isGiven, readBooleanOption } from '../config/database-config';
import type { DatabaseModuleOptions } from '../config/database-module-options';
import { DATABASE_MODULE_OPTIONS } from '../config/database.internal-constants';

/**
 * How a scoped transaction begins: on one PostgreSQL node, or on the coordinator of a Citus cluster
 * (transaction/prelude.ts has both forms).
 */
export type PreludeForm = 'single-node' | 'citus';

/**
 * Whether the module talks to one PostgreSQL node or to the coordinator of a Citus cluster, decided
 * once at start: the `citus` option when given, otherwise whether the `citus` extension exists in the
 * connected database. What differs between the two lives in the prelude (transaction/prelude.ts) and,
 * for the lifecycle services' audited writes, in lifecycle/audited-write.ts; the routing predicate
 * (transaction/routing-predicate.ts) is the same on both.
 */
export class ClusterTopology {
  constructor(
    readonly preludeForm: PreludeForm,
    /**
     * A connection pooler (PgBouncer, …) stands between the module and PostgreSQL: the server session
     * a transaction lands on is not its client connection's, so nothing about it can be vouched for
     * (connection/session-guard.ts).
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
    // Forced on a node without the extension (a test of the prelude form), there are no workers to try.
    const workers = citus && (detected ?? (await hasCitusExtension(dataSource)));
    if (citus) for (const problem of await workerLoginProblems(dataSource, workers)) logger.warn(problem);
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

const ROLES = ['fdl_app', 'fdl_system'] as const;
const OPERATOR_STEPS = 'docs/citus.md, "What the operator configures on the cluster"';

/**
 * Why tenant or system transactions cannot reach the workers, one line each; empty when they can.
 * On Citus the coordinator connects to the workers as the transaction's role: a role without LOGIN
 * cannot, and one with LOGIN still fails where a worker asks it for credentials the coordinator does
 * not have (steps 2 to 4 of the operator's guide). Each role that this login may become is tried on
 * every worker (`run_command_on_workers`, which connects as the current role), so the warning lasts
 * exactly as long as requests would answer 503. A role this login may not become (the production
 * layout's other login) is left to the login that may.
 */
async function workerLoginProblems(dataSource: DataSource, tryWorkers: boolean): Promise<string[]> {
  const roles = (await dataSource.query(
    `SELECT rolname AS role, rolcanlogin AS "canLogIn", pg_has_role(current_user, oid, 'USAGE') AS "mayBecome"
     FROM pg_roles WHERE rolname = ANY ($1) ORDER BY rolname`,
    [ROLES],
  )) as { role: string; canLogIn: boolean; mayBecome: boolean }[];
  const problems: string[] = [];
  for (const { role, canLogIn, mayBecome } of roles) {
    if (!canLogIn) {
      problems.push(
        `${role} cannot log in: on Citus the coordinator connects to the workers as the transaction's role, ` +
          `so requests that use it will answer 503 until an operator gives it LOGIN and credentials (${OPERATOR_STEPS})`,
      );
      continue;
    }
    if (!mayBecome || !tryWorkers) continue;
    let refusing: { node: string; reason: string }[];
    try {
      refusing = await workersRefusing(dataSource, role);
    } catch (error) {
      // A check that cannot run must not stop the start: say so instead.
      problems.push(`could not try the workers as ${role} (${(error as Error).message}): requests that use it may answer 503 (${OPERATOR_STEPS})`);
      continue;
    }
    for (const worker of refusing) {
      problems.push(
        `${role} cannot connect to the worker ${worker.node} (${worker.reason}): requests that use it will answer 503 ` +
          `until the workers accept it from the coordinator and the coordinator has its credentials (${OPERATOR_STEPS})`,
      );
    }
  }
  return problems;
}

async function workersRefusing(dataSource: DataSource, role: string): Promise<{ node: string; reason: string }[]> {
  const runner = dataSource.createQueryRunner();
  try {
    await runner.startTransaction();
    // A worker that does not answer is a warning too, not a start that hangs.
    await runner.query(`SET LOCAL citus.node_connection_timeout = 5000`);
    await runner.query(`SELECT set_config('role', $1, true)`, [role]);
    const rows = (await runner.query(`SELECT nodename, nodeport, result FROM run_command_on_workers('SELECT 1') WHERE NOT success`)) as {
      nodename: string;
      nodeport: number;
      result: string;
    }[];
    return rows.map((row) => ({ node: `${row.nodename}:${row.nodeport}`, reason: row.result.split('\n')[0] }));
  } finally {
    if (runner.isTransactionActive) await runner.rollbackTransaction();
    await runner.release();
  }
}

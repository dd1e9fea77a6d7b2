import type { ExecutionContext } from '@nestjs/common';
import type { MigrationInterface } from 'typeorm';

/**
 * An embedded database the application started before the module (`startEmbeddedDatabase()` from
 * `fdl-runtime-db/embedded`), as given to {@link DatabaseModuleOptions.embeddedDatabase}: what the
 * module asks of it. Declared here, and implemented by the embedded database, so that the options sit
 * below the embedded database rather than import it.
 */
export interface StartedEmbeddedDatabase {
  /** Where it keeps its files; undefined: in memory. */
  readonly dataDir: string | undefined;
  /** Resolves with its URL once it is up and migrated (`prepare`), and the application's migrations ran (`afterSnapshot`). */
  ready(options: {
    prepare(url: string): Promise<void>;
    afterSnapshot?(url: string): Promise<void>;
    log?(message: string): void;
  }): Promise<{ url: string; startedFrom: string }>;
  stop(): Promise<void>;
}

/** An entity class of the application's own, as given to {@link DatabaseModuleOptions.entities}. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export type EntityClass = Function;

/** A migration class of the application's own, as given to {@link DatabaseModuleOptions.migrations}. */
export type MigrationClass = new () => MigrationInterface;

/** Returns the request's tenant id, or nothing when the request names none. */
export type TenantResolver = (context: ExecutionContext) => string | null | undefined | Promise<string | null | undefined>;

/**
 * Options of {@link DatabaseModule.forRoot} / `forRootAsync`. Every connection option left unset
 * falls back to its environment variable, then to its default; code and environment are validated
 * the same way. Numbers and booleans may be given as strings (what `@nestjs/config`'s
 * `ConfigService` returns): they are read exactly as their environment variable is, a blank string
 * counting as unset, and an error names the option.
 */
export interface DatabaseModuleOptions {
  /**
   * `true`: connect to the PostgreSQL server at {@link url}. `false`: start an embedded PostgreSQL
   * (PGlite) inside the process, for development.
   * Env: `FDL_USE_DATABASE`. Default: `false`.
   */
  useDatabase?: boolean | string;
  /**
   * Connection string, `postgres://user:password@host:5432/database`. Required when
   * {@link useDatabase} is true. Env: `DATABASE_URL`.
   */
  url?: string;
  /**
   * A second login for the system path ({@link TenancyService.runAsSystem}, archival sweeps,
   * partition upkeep), with a small pool of its own. With it, the login of {@link url} need only
   * be able to become `fdl_app`, so SQL sent in a tenant transaction cannot switch to `fdl_system`
   * (see sql/least-privilege-logins.sql). Env: `FDL_SYSTEM_DATABASE_URL`. Default: the system path
   * uses {@link url}.
   */
  systemUrl?: string;
  /**
   * Directory where the embedded database keeps its files across restarts; only one process may
   * open it. Env: `FDL_DATA_DIR`. Default: in memory.
   */
  dataDir?: string;
  /**
   * The embedded database already started by `startEmbeddedDatabase()` (from
   * `fdl-runtime-db/embedded`) at the top of `main.ts`, so that its start overlapped the
   * application's. It must keep its data where the module is configured to. Default: the module
   * starts the embedded database itself.
   */
  embeddedDatabase?: StartedEmbeddedDatabase;
  /** Connections in the pool. Env: `FDL_DB_POOL_SIZE`. Default: `10`. */
  poolSize?: number | string;
  /** `statement_timeout` of every tenant transaction, in seconds. Env: `FDL_DB_TIMEOUT`. Default: `30`. */
  queryTimeout?: number | string;
  /**
   * How long a request waits for a free pooled connection before failing with 503, in seconds.
   * Env: `FDL_DB_ACQUIRE_TIMEOUT`. Default: `5`.
   */
  acquireTimeout?: number | string;
  /**
   * `idle_in_transaction_session_timeout`, in seconds: the server ends a transaction left idle this
   * long. Env: `FDL_DB_IDLE_IN_TRANSACTION_TIMEOUT`. Default: `60`.
   */
  idleInTransactionTimeout?: number | string;
  /** Queries slower than this many seconds are logged as warnings. Env: `FDL_DB_SLOW_QUERY`. Default: `1`. */
  slowQueryThreshold?: number | string;
  /**
   * Apply pending migrations at start, under an advisory lock so that replicas starting together
   * apply each migration once. The embedded database always migrates. Env: `FDL_RUN_MIGRATIONS`.
   * Default: `false`.
   */
  runMigrations?: boolean | string;
  /** Header the default resolver reads the tenant id from. Default: `'x-tenant-id'`. */
  tenantHeader?: string;
  /**
   * Takes the tenant id from the request, e.g. from the authenticated principal.
   * Default: the {@link tenantHeader} header of an HTTP request.
   */
  resolveTenant?: TenantResolver;
  /**
   * Who the request acts for, recorded by the audit trail (e.g. the authenticated user's id).
   * Default: none (entries say `'unknown'`).
   */
  resolveActor?: (context: ExecutionContext) => string | null | undefined | Promise<string | null | undefined>;
  /** Status for a request that names no tenant. Default: `400`. */
  missingTenantStatus?: 400 | 401;
  /**
   * The application's own entities, added to the module's DataSource beside the library's. Give
   * them a tenant-scoped repository with `DatabaseModule.forFeature([Entity])` in the module that
   * injects it. An explicit list of classes: globs break once an application is bundled.
   * Default: `[]`.
   */
  entities?: EntityClass[];
  /**
   * The application's own migrations (make tables tenant-isolated with `tenantTable()`), applied
   * with the library's in timestamp order: by the embedded database at start (after the library's),
   * by {@link runMigrations}, and by a CLI DataSource built with `migrationDataSourceOptions(url,
   * { migrations })`. Default: `[]`.
   */
  migrations?: MigrationClass[];
  /**
   * The secret that signs the audit trail's digests (`AuditTrail.digest()`), so that a digest kept
   * where the database's administrators can write cannot be forged by them. Keep it out of the
   * database; at least 32 characters. Env: `FDL_AUDIT_DIGEST_KEY`. Default: unset (digests unsigned).
   */
  auditDigestKey?: string;
  /**
   * A tenant's share of the pool while tenants contend for it (above 0, at most 1): each freed
   * connection goes to the waiting tenant that holds the least of its share, so a tenant holds no
   * more than its share while another that holds less of its own waits. A tenant alone uses the
   * whole pool. Env: `FDL_DB_TENANT_SHARE`. Default: `0.25`.
   */
  tenantShare?: number | string;
  /** A tenant's own share where it differs from `tenantShare` (e.g. a paying tier); undefined: `tenantShare`. */
  tenantShareOf?: (tenantId: string) => number | undefined;
  /**
   * The most transactions one tenant may have waiting for a connection; one more is refused at once
   * (429 with `Retry-After`). Env: `FDL_DB_TENANT_QUEUE`. Default: 4 × `poolSize`, at least 16.
   */
  tenantQueue?: number | string;
  /**
   * With OpenTelemetry: put the tenant id (`fdl.tenant.id`) on the per-tenant pool metrics
   * (transactions waiting, connections held, wait time, refusals). A tenant id identifies a customer,
   * and one attribute value per tenant multiplies the series a backend stores. Default: `false`.
   */
  tenantIdOnMetrics?: boolean | string;
  /** Read unset options from the environment. Default: `true`. */
  readEnvironment?: boolean;
  /**
   * With OpenTelemetry: put the tenant id, as attribute `fdl.tenant.id`, on the span active when a
   * tenant transaction begins (the request's span) and on the spans of the prelude's round trip.
   * A tenant id is an identifier of a customer: opt in only where your traces may carry it. For
   * the other database spans, `currentTenantId()` in instrumentation-pg's `requestHook`.
   * Default: `false`.
   */
  tenantIdOnSpans?: boolean | string;
  /**
   * Whether the database is the coordinator of a Citus cluster. On Citus the tenant prelude sets the
   * tenant with `SET LOCAL` (the statement Citus propagates to the workers) instead of
   * `set_config()`. Give it only to override the detection, e.g. where the login may not read
   * `pg_extension`. Default: detected at start (the `citus` extension exists in the database).
   */
  citus?: boolean | string;
  /**
   * Prepare each transaction's first round trip (the tenant prelude and the query sent with it) as
   * named statements, parsed and planned once per connection. Behind a pooler that shares server
   * connections between transactions (PgBouncer in transaction mode before 1.21, or without
   * `max_prepared_statements`) they are turned off by themselves at the first statement a server
   * connection lacks, with a warning; `false` starts without them. Default: `true`.
   */
  preparedStatements?: boolean | string;
}

/** Options fixed when the module is defined (they decide which providers exist). */
export interface DatabaseModuleExtras {
  /** Register the module globally, as `@nestjs/typeorm` does. Default: `true`. */
  isGlobal?: boolean;
  /** Mount {@link TenantContextInterceptor} for every route (`APP_INTERCEPTOR`). Default: `false`. */
  globalInterceptor?: boolean;
}

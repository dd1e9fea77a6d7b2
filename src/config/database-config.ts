import { DatabaseConfigError } from './database-config.error';

/** Which PostgreSQL the module talks to: a real server, or the one embedded in the process. */
export type DatabaseBackend = 'postgres' | 'embedded';

/** The validated connection settings, whatever their source (environment or module options). */
export interface DatabaseConfig {
  backend: DatabaseBackend;
  /** Connection string; always set for `postgres`, unset for `embedded`. */
  url?: string;
  /** A separate login for the system path (`postgres` only); unset: the system path uses {@link url}. */
  systemUrl?: string;
  /** Where the embedded database keeps its files; unset keeps it in memory. */
  dataDir?: string;
  poolSize: number;
  /** `statement_timeout`, in seconds. */
  queryTimeout: number;
  /** How long a caller waits for a free pooled connection, in seconds. */
  acquireTimeout: number;
  /** `idle_in_transaction_session_timeout`, in seconds: the backstop for a transaction left open. */
  idleInTransactionTimeout: number;
  /** Queries slower than this many seconds are logged as warnings. */
  slowQueryThreshold: number;
  /** The secret that signs audit digests (AuditTrail.digest); unset: digests are unsigned. */
  auditDigestKey?: string;
  /** A tenant's share of the pool while tenants contend for it: above 0, at most 1. */
  tenantShare: number;
  /** The most transactions one tenant may have waiting for a connection. */
  tenantQueue: number;
  /** Apply pending migrations at start (a server only: the embedded database always migrates). */
  runMigrations?: boolean;
}

export const DEFAULT_POOL_SIZE = 10;
export const DEFAULT_QUERY_TIMEOUT_SECONDS = 30;
export const DEFAULT_ACQUIRE_TIMEOUT_SECONDS = 5;
export const DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS = 60;
export const DEFAULT_SLOW_QUERY_THRESHOLD_SECONDS = 1;
const MAX_POOL_SIZE = 1000;
/**
 * A quarter of the pool (2 of the default 10 connections): while other tenants are active, one
 * tenant's long queries occupy at most that much of the pool, and so of the database's CPU, which
 * the pool cannot share out (bench `fairness`: at 0.3 and above a CPU-heavy tenant slowed a quiet
 * one below half its rate on a 2-core server; at 0.2–0.25 it kept 0.8). A tenant alone still uses
 * the whole pool. Raise it where one tenant's rate depends on many connections at once (a remote
 * database, where round trips rather than CPU bound it).
 */
export const DEFAULT_TENANT_SHARE = 0.25;
/**
 * Four rounds of the whole pool (at least 16): a transaction further back would wait about as long as
 * `acquireTimeout` at the hold times this module sees, so it is better told at once to come back.
 */
export const defaultTenantQueue = (poolSize: number) => Math.max(16, 4 * poolSize);
const MAX_TENANT_QUEUE = 100_000;
/** 32 characters of `openssl rand -base64 32` carry 192 bits: well past what an HMAC key needs. */
const MIN_AUDIT_DIGEST_KEY_LENGTH = 32;

type Env = Record<string, string | undefined>;

/**
 * Settings given in code (module options), which win over their environment variables. Numbers and
 * booleans may also be strings, as `@nestjs/config`'s `ConfigService` returns them: they are read
 * exactly as the variable would be, and a blank string counts as unset. Errors name the option.
 */
export interface DatabaseConfigOverrides {
  /** `true`/`'true'`: the server at `url`; `false`/`'false'`: embedded. Wins over `backend`. */
  useDatabase?: boolean | string;
  backend?: DatabaseBackend;
  url?: string;
  systemUrl?: string;
  dataDir?: string;
  poolSize?: number | string;
  queryTimeout?: number | string;
  acquireTimeout?: number | string;
  idleInTransactionTimeout?: number | string;
  slowQueryThreshold?: number | string;
  auditDigestKey?: string;
  tenantShare?: number | string;
  tenantQueue?: number | string;
  runMigrations?: boolean | string;
}

/**
 * Reads and validates `DATABASE_URL`, `FDL_SYSTEM_DATABASE_URL`, `FDL_USE_DATABASE`, `FDL_DATA_DIR`, `FDL_DB_*`, `FDL_AUDIT_DIGEST_KEY` and `FDL_RUN_MIGRATIONS`. A value in
 * `overrides` (module options given in code) wins over its variable, which is then not read at all.
 */
export function loadDatabaseConfig(env: Env = process.env, overrides: DatabaseConfigOverrides = {}): DatabaseConfig {
  const text = (override: string | undefined, variable: string) => blankToUndefined(override) ?? blankToUndefined(env[variable]);
  const seconds = (option: keyof DatabaseConfigOverrides, variable: string, fallback: number) =>
    pick(overrides[option], option, env, variable, readSeconds) ?? fallback;
  return validateDatabaseConfig({
    backend: isGiven(overrides.useDatabase)
      ? readBackend(overrides.useDatabase, 'useDatabase')
      : (overrides.backend ?? readBackend(env.FDL_USE_DATABASE ?? '', 'FDL_USE_DATABASE')),
    url: text(overrides.url, 'DATABASE_URL'),
    systemUrl: text(overrides.systemUrl, 'FDL_SYSTEM_DATABASE_URL'),
    dataDir: text(overrides.dataDir, 'FDL_DATA_DIR'),
    poolSize: pick(overrides.poolSize, 'poolSize', env, 'FDL_DB_POOL_SIZE', readPoolSize) ?? DEFAULT_POOL_SIZE,
    queryTimeout: seconds('queryTimeout', 'FDL_DB_TIMEOUT', DEFAULT_QUERY_TIMEOUT_SECONDS),
    acquireTimeout: seconds('acquireTimeout', 'FDL_DB_ACQUIRE_TIMEOUT', DEFAULT_ACQUIRE_TIMEOUT_SECONDS),
    idleInTransactionTimeout: seconds(
      'idleInTransactionTimeout',
      'FDL_DB_IDLE_IN_TRANSACTION_TIMEOUT',
      DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS,
    ),
    slowQueryThreshold: seconds('slowQueryThreshold', 'FDL_DB_SLOW_QUERY', DEFAULT_SLOW_QUERY_THRESHOLD_SECONDS),
    auditDigestKey: text(overrides.auditDigestKey, 'FDL_AUDIT_DIGEST_KEY'),
    tenantShare: pick(overrides.tenantShare, 'tenantShare', env, 'FDL_DB_TENANT_SHARE', readShare) ?? DEFAULT_TENANT_SHARE,
    tenantQueue: pick(overrides.tenantQueue, 'tenantQueue', env, 'FDL_DB_TENANT_QUEUE', readQueue) ?? defaultTenantQueue(poolSizeOf(overrides, env)),
    runMigrations: pick(overrides.runMigrations, 'runMigrations', env, 'FDL_RUN_MIGRATIONS', readBooleanOption) ?? false,
  });
}

/**
 * The option's value read by `read` under the option's name; when it is unset (or a blank string),
 * the variable's, under the variable's name; undefined when neither is set.
 */
function pick<T>(
  override: unknown,
  option: string,
  env: Env,
  variable: string,
  read: (value: unknown, name: string) => T,
): T | undefined {
  if (isGiven(override)) return read(typeof override === 'string' ? override.trim() : override, option);
  const fromEnv = env[variable]?.trim();
  return fromEnv ? read(fromEnv, variable) : undefined;
}

/**
 * Checks a complete configuration, however it was put together, so that options passed in code
 * fail the same way as the environment does.
 */
export function validateDatabaseConfig(config: DatabaseConfig): DatabaseConfig {
  if (config.backend !== 'postgres' && config.backend !== 'embedded') {
    throw new DatabaseConfigError(`backend must be 'postgres' or 'embedded', got ${JSON.stringify(config.backend)}`);
  }
  if (config.backend === 'postgres') {
    if (!config.url) {
      throw new DatabaseConfigError(
        'DATABASE_URL is not set: FDL_USE_DATABASE=true needs a PostgreSQL connection string, ' +
          'e.g. postgres://user:password@localhost:5432/fdl',
      );
    }
    assertPostgresUrl(config.url);
    if (config.systemUrl !== undefined) assertPostgresUrl(config.systemUrl, 'FDL_SYSTEM_DATABASE_URL');
  } else if (config.systemUrl !== undefined) {
    throw new DatabaseConfigError(
      'FDL_SYSTEM_DATABASE_URL is set, but the embedded database has one login: set FDL_USE_DATABASE=true to use a server',
    );
  }
  assertPoolSize(config.poolSize, 'FDL_DB_POOL_SIZE');
  assertPositiveSeconds(config.queryTimeout, 'FDL_DB_TIMEOUT');
  assertPositiveSeconds(config.acquireTimeout, 'FDL_DB_ACQUIRE_TIMEOUT');
  assertPositiveSeconds(config.idleInTransactionTimeout, 'FDL_DB_IDLE_IN_TRANSACTION_TIMEOUT');
  assertPositiveSeconds(config.slowQueryThreshold, 'FDL_DB_SLOW_QUERY');
  if (config.auditDigestKey !== undefined && config.auditDigestKey.length < MIN_AUDIT_DIGEST_KEY_LENGTH) {
    // Never echoes the key.
    throw new DatabaseConfigError(
      `FDL_AUDIT_DIGEST_KEY must be at least ${MIN_AUDIT_DIGEST_KEY_LENGTH} characters (e.g. \`openssl rand -base64 32\`), got ${config.auditDigestKey.length}`,
    );
  }
  return config;
}

/** Throws unless `url` is a `postgres://` or `postgresql://` URL with a host. Never echoes the password. */
export function assertPostgresUrl(url: string, variable = 'DATABASE_URL'): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new DatabaseConfigError(
      `${variable} is not a valid URL: expected postgres://user:password@host:5432/database`,
    );
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new DatabaseConfigError(
      `${variable} must start with postgres:// or postgresql://, got ${parsed.protocol}//…`,
    );
  }
  if (!parsed.hostname && !parsed.searchParams.get('host')) {
    throw new DatabaseConfigError(`${variable} has no host: expected postgres://user:password@host:5432/database`);
  }
}

/** A boolean option given in code, or as the string `'true'`/`'false'` (blank: `fallback`). */
export function readBooleanOption(value: unknown, name: string, fallback = false): boolean {
  if (!isGiven(value)) return fallback;
  if (typeof value === 'boolean') return value;
  const normalised = typeof value === 'string' ? value.trim().toLowerCase() : undefined;
  if (normalised === 'true') return true;
  if (normalised === 'false') return false;
  throw new DatabaseConfigError(`${name} must be true or false (or 'true'/'false'), got ${JSON.stringify(value)}`);
}

/** Set, for an option: not undefined, null or a blank string (what ConfigService gives for `X=`). */
export function isGiven(value: unknown): boolean {
  return value !== undefined && value !== null && !(typeof value === 'string' && value.trim() === '');
}

const shown = (value: unknown) => (typeof value === 'number' ? String(value) : JSON.stringify(value));

function readBackend(value: unknown, name: string): DatabaseBackend {
  if (typeof value === 'boolean') return value ? 'postgres' : 'embedded';
  const normalised = typeof value === 'string' ? value.trim().toLowerCase() : undefined;
  if (normalised === '' || normalised === 'false') return 'embedded';
  if (normalised === 'true') return 'postgres';
  throw new DatabaseConfigError(
    `${name} must be 'true' (use DATABASE_URL) or 'false'/unset (embedded PostgreSQL), got ${JSON.stringify(value)}`,
  );
}

function readPoolSize(value: unknown, name: string): number {
  if (typeof value === 'string' && !/^\d+$/.test(value)) {
    throw new DatabaseConfigError(`${name} must be a whole number from 1 to ${MAX_POOL_SIZE}, got ${JSON.stringify(value)}`);
  }
  const size = typeof value === 'string' ? Number(value) : (value as number);
  assertPoolSize(size, name);
  return size;
}

function readShare(value: unknown, name: string): number {
  const share = typeof value === 'string' && /^\d*\.?\d+$/.test(value) ? Number(value) : value;
  if (!isShare(share)) {
    throw new DatabaseConfigError(`${name} must be a number above 0 and at most 1 (a share of the pool), got ${JSON.stringify(value)}`);
  }
  return share;
}

function readQueue(value: unknown, name: string): number {
  const queue = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof queue !== 'number' || !Number.isInteger(queue) || queue < 0 || queue > MAX_TENANT_QUEUE) {
    throw new DatabaseConfigError(`${name} must be a whole number from 0 to ${MAX_TENANT_QUEUE}, got ${JSON.stringify(value)}`);
  }
  return queue;
}

/** The pool size as loadDatabaseConfig reads it, for the defaults that follow from it. */
function poolSizeOf(overrides: DatabaseConfigOverrides, env: Env): number {
  return pick(overrides.poolSize, 'poolSize', env, 'FDL_DB_POOL_SIZE', readPoolSize) ?? DEFAULT_POOL_SIZE;
}

function readSeconds(value: unknown, name: string): number {
  if (typeof value === 'string' && !/^\d+(\.\d+)?$/.test(value)) {
    throw new DatabaseConfigError(`${name} must be a positive number of seconds, got ${JSON.stringify(value)}`);
  }
  const seconds = typeof value === 'string' ? Number(value) : (value as number);
  assertPositiveSeconds(seconds, name);
  return seconds;
}

function assertPoolSize(size: number, name: string): void {
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 1 || size > MAX_POOL_SIZE) {
    throw new DatabaseConfigError(`${name} must be a whole number from 1 to ${MAX_POOL_SIZE}, got ${shown(size)}`);
  }
}

function assertPositiveSeconds(seconds: number, name: string): void {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) {
    throw new DatabaseConfigError(`${name} must be a positive number of seconds, got ${shown(seconds)}`);
  }
}

function blankToUndefined(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

/** Whether `value` can be a share of the pool (the tenant scheduler's `share`): a number above 0 and at most 1. */
export function isShare(value: unknown): value is number {
  return typeof value === 'number' && value > 0 && value <= 1;
}

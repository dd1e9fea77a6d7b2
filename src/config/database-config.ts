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
}

export const DEFAULT_POOL_SIZE = 10;
export const DEFAULT_QUERY_TIMEOUT_SECONDS = 30;
export const DEFAULT_ACQUIRE_TIMEOUT_SECONDS = 5;
export const DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS = 60;
export const DEFAULT_SLOW_QUERY_THRESHOLD_SECONDS = 1;
const MAX_POOL_SIZE = 1000;

type Env = Record<string, string | undefined>;

/**
 * Reads and validates `DATABASE_URL`, `FDL_SYSTEM_DATABASE_URL`, `FDL_USE_DATABASE`, `FDL_DATA_DIR` and `FDL_DB_*`. A value in
 * `overrides` (module options given in code) wins over its variable, which is then not read at all.
 */
export function loadDatabaseConfig(env: Env = process.env, overrides: Partial<DatabaseConfig> = {}): DatabaseConfig {
  const pick = <T>(override: T | undefined, read: () => T): T => (override !== undefined ? override : read());
  return validateDatabaseConfig({
    backend: pick(overrides.backend, () => parseBackend(env.FDL_USE_DATABASE)),
    url: pick(overrides.url, () => blankToUndefined(env.DATABASE_URL)),
    systemUrl: pick(overrides.systemUrl, () => blankToUndefined(env.FDL_SYSTEM_DATABASE_URL)),
    dataDir: pick(overrides.dataDir, () => blankToUndefined(env.FDL_DATA_DIR)),
    poolSize: pick(overrides.poolSize, () => parseOptional(env, 'FDL_DB_POOL_SIZE', parsePoolSize) ?? DEFAULT_POOL_SIZE),
    queryTimeout: pick(
      overrides.queryTimeout,
      () => parseOptional(env, 'FDL_DB_TIMEOUT', parseSeconds) ?? DEFAULT_QUERY_TIMEOUT_SECONDS,
    ),
    acquireTimeout: pick(
      overrides.acquireTimeout,
      () => parseOptional(env, 'FDL_DB_ACQUIRE_TIMEOUT', parseSeconds) ?? DEFAULT_ACQUIRE_TIMEOUT_SECONDS,
    ),
    idleInTransactionTimeout: pick(
      overrides.idleInTransactionTimeout,
      () =>
        parseOptional(env, 'FDL_DB_IDLE_IN_TRANSACTION_TIMEOUT', parseSeconds) ??
        DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS,
    ),
    slowQueryThreshold: pick(
      overrides.slowQueryThreshold,
      () => parseOptional(env, 'FDL_DB_SLOW_QUERY', parseSeconds) ?? DEFAULT_SLOW_QUERY_THRESHOLD_SECONDS,
    ),
  });
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

function parseBackend(value: string | undefined): DatabaseBackend {
  const normalised = (value ?? '').trim().toLowerCase();
  if (normalised === '' || normalised === 'false') return 'embedded';
  if (normalised === 'true') return 'postgres';
  throw new DatabaseConfigError(
    `FDL_USE_DATABASE must be 'true' (use DATABASE_URL) or 'false'/unset (embedded PostgreSQL), got ${JSON.stringify(value)}`,
  );
}

function parseOptional<T>(env: Env, variable: string, parse: (value: string, variable: string) => T): T | undefined {
  const trimmed = env[variable]?.trim();
  return trimmed ? parse(trimmed, variable) : undefined;
}

function parsePoolSize(value: string, variable: string): number {
  if (!/^\d+$/.test(value)) {
    throw new DatabaseConfigError(`${variable} must be a whole number from 1 to ${MAX_POOL_SIZE}, got ${JSON.stringify(value)}`);
  }
  const size = Number(value);
  assertPoolSize(size, variable);
  return size;
}

function parseSeconds(value: string, variable: string): number {
  if (!/^\d+(\.\d+)?$/.test(value)) {
    throw new DatabaseConfigError(`${variable} must be a positive number of seconds, got ${JSON.stringify(value)}`);
  }
  const seconds = Number(value);
  assertPositiveSeconds(seconds, variable);
  return seconds;
}

function assertPoolSize(size: number, variable: string): void {
  if (!Number.isInteger(size) || size < 1 || size > MAX_POOL_SIZE) {
    throw new DatabaseConfigError(`${variable} must be a whole number from 1 to ${MAX_POOL_SIZE}, got ${size}`);
  }
}

function assertPositiveSeconds(seconds: number, variable: string): void {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) {
    throw new DatabaseConfigError(`${variable} must be a positive number of seconds, got ${seconds}`);
  }
}

function blankToUndefined(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

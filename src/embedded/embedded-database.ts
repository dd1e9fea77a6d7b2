import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseConfigError } from '../config/database-config.error';
import type { StartedEmbeddedDatabase } from '../config/database-module-options';
import { lockDataDir } from './data-dir-lock';
import { PGliteThread } from './pglite-thread';
import { defaultCacheDir, snapshotKey, snapshotPath } from './snapshot-cache';

export interface EmbeddedDatabaseOptions {
  /** Keep the files here across restarts; unset: in memory. */
  dataDir?: string;
  /** Identifies the schema `prepare` produces: the snapshot's cache key. Default: PGlite's version and the migrations' names. */
  snapshotKey?: string;
  /** Default: `FDL_CACHE_DIR`, else the user's cache directory. */
  cacheDir?: string;
}

export interface ReadyOptions {
  /** Brings a cluster up to date (runs the migrations); skipped when the snapshot for the key was loaded. */
  prepare(url: string): Promise<void>;
  /**
   * Runs on every start after the snapshot was loaded or taken: the application's own migrations,
   * which the snapshot (shared by every application of this user, keyed by the library's
   * migrations) never holds.
   */
  afterSnapshot?(url: string): Promise<void>;
  log?(message: string): void;
}

/** How a start got its cluster: a fresh initdb, the snapshot cache, or an existing data directory. */
export type EmbeddedStartKind = 'fresh' | 'snapshot' | 'data-dir';

/**
 * PGlite's socket server admits this many clients: the module's pool of one, the migration run, and
 * a health check or an operator's psql beside them.
 */
const MAX_CONNECTIONS = 4;

/**
 * A real PostgreSQL (PGlite, PostgreSQL compiled to WebAssembly) in a thread of this process,
 * served over the wire protocol on a Unix socket only this user may reach, so that TypeORM's
 * ordinary `postgres` driver uses it, migrations, RLS and all. PGlite has a single backend: the
 * module gives it a pool of one connection, so transactions are serialised and unnamed statements
 * of two clients never interleave.
 *
 * Starting is split in two so that the slow part overlaps the application's own start: `launch`
 * returns at once with the cluster coming up in its thread (initdb takes seconds; loading the
 * cached snapshot of the migrated cluster well under one); `ready` then migrates a fresh cluster
 * and snapshots it for the next start.
 */
export class EmbeddedDatabase implements StartedEmbeddedDatabase {
  private readonly messages: string[] = [];
  private log: (message: string) => void = (message) => {
    this.messages.push(message);
  };
  private readonly launched: Promise<{ thread: PGliteThread; url: string; startedFrom: EmbeddedStartKind; snapshot: string }>;
  private readiness?: Promise<{ url: string; startedFrom: EmbeddedStartKind }>;
  private stopped?: Promise<void>;
  private releaseLock?: () => void;

  private constructor(private readonly options: EmbeddedDatabaseOptions) {
    this.launched = this.launch();
    // Failures are reported by `ready()`; until someone asks, they are not unhandled.
    this.launched.catch(() => undefined);
  }

  /** Starts the cluster in its own thread and returns at once. */
  static launch(options: EmbeddedDatabaseOptions): EmbeddedDatabase {
    return new EmbeddedDatabase(options);
  }

  get dataDir(): string | undefined {
    return this.options.dataDir;
  }

  /** Resolves with the URL once the cluster is up and migrated. Asked twice, it answers once. */
  ready(options: ReadyOptions): Promise<{ url: string; startedFrom: EmbeddedStartKind }> {
    if (options.log) {
      this.log = options.log;
      this.messages.splice(0).forEach(options.log);
    }
    return (this.readiness ??= this.prepare(options.prepare, options.afterSnapshot));
  }

  /** Closes the socket server and PGlite (a data directory is left consistent), then the lock. */
  stop(): Promise<void> {
    return (this.stopped ??= (async () => {
      try {
        const { thread } = await this.launched.catch(() => ({ thread: undefined }));
        await thread?.stop();
      } finally {
        this.releaseLock?.();
      }
    })());
  }

  private async launch() {
    assertPGliteInstalled();
    const { dataDir } = this.options;
    this.releaseLock = dataDir ? lockDataDir(dataDir) : undefined;
    try {
      const dataDirExists = dataDir !== undefined && existsSync(join(dataDir, 'PG_VERSION'));
      const snapshot = snapshotPath(this.options.cacheDir ?? defaultCacheDir(), this.options.snapshotKey ?? snapshotKey());
      const started = await PGliteThread.start(
        { dataDir, dataDirExists, snapshotPath: dataDirExists ? undefined : snapshot, maxConnections: MAX_CONNECTIONS },
        (message) => this.log(message),
      );
      return { ...started, snapshot };
    } catch (error) {
      this.releaseLock?.();
      throw error;
    }
  }

  private async prepare(prepare: ReadyOptions['prepare'], afterSnapshot: ReadyOptions['afterSnapshot']) {
    const { thread, url, startedFrom, snapshot } = await this.launched;
    try {
      // A snapshot is the output of `prepare` for this very key: nothing left to do.
      if (startedFrom !== 'snapshot') await prepare(url);
      // Taken before the application's first query: the snapshot holds the schema, never its rows.
      if (startedFrom === 'fresh') await thread.snapshot(snapshot);
      await afterSnapshot?.(url);
    } catch (error) {
      await this.stop();
      throw error;
    }
    return { url, startedFrom };
  }
}

function assertPGliteInstalled(): void {
  try {
    require.resolve('@electric-sql/pglite');
    require.resolve('@electric-sql/pglite-socket');
  } catch {
    throw new DatabaseConfigError(
      'the embedded database needs the optional packages @electric-sql/pglite and @electric-sql/pglite-socket ' +
        '(npm install @electric-sql/pglite@0.5.14 @electric-sql/pglite-socket); or set FDL_USE_DATABASE=true and DATABASE_URL',
    );
  }
}

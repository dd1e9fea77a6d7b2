import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import type { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { DatabaseConfigError } from '../config/database-config.error';
import { lockDataDir } from './data-dir-lock';
import { defaultCacheDir, SnapshotCache } from './snapshot-cache';

export interface EmbeddedPostgresOptions {
  /** Keep the files here across restarts; unset: in memory. */
  dataDir?: string;
  /** Identifies what `prepare` produces (e.g. a hash of the migrations): the snapshot's cache key. */
  snapshotKey: string;
  /** Brings a cluster up to date (runs the migrations); skipped when the snapshot for the key was loaded. */
  prepare(url: string): Promise<void>;
  cacheDir?: string;
  log?(message: string): void;
}

export interface EmbeddedPostgres {
  url: string;
  /** How this start got its cluster: a fresh initdb, the snapshot cache, or an existing data directory. */
  startedFrom: 'fresh' | 'snapshot' | 'data-dir';
  stop(): Promise<void>;
}

/**
 * A real PostgreSQL (PGlite, PostgreSQL compiled to WebAssembly) inside this process, served over
 * the PostgreSQL wire protocol on a loopback port so that TypeORM's ordinary `postgres` driver uses
 * it, migrations, RLS and all. PGlite has a single backend: the module gives it a pool of one
 * connection, so transactions are serialised and unnamed statements of two clients never interleave.
 *
 * Cold start (initdb) takes seconds; after the first start, a snapshot of the migrated cluster is
 * kept in the cache directory and later starts load it instead.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const { PGlite, PGLiteSocketServer } = loadPGlite();
  const log = options.log ?? (() => undefined);
  const cache = new SnapshotCache(options.cacheDir ?? defaultCacheDir());
  const releaseLock = options.dataDir ? lockDataDir(options.dataDir) : undefined;
  let db: PGlite | undefined;
  let server: PGLiteSocketServer | undefined;
  try {
    const existing = options.dataDir !== undefined && existsSync(join(options.dataDir, 'PG_VERSION'));
    let startedFrom: EmbeddedPostgres['startedFrom'] = existing ? 'data-dir' : 'fresh';
    const snapshot = existing ? undefined : cache.read(options.snapshotKey);
    if (snapshot) {
      try {
        db = await PGlite.create({ dataDir: options.dataDir, loadDataDir: snapshot });
        startedFrom = 'snapshot';
      } catch (error) {
        log(`embedded snapshot unreadable (${(error as Error).message}): starting fresh`);
        cache.discard(options.snapshotKey);
      }
    }
    db ??= await PGlite.create({ dataDir: options.dataDir });
    server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 4 });
    await server.start();
    const url = `postgres://postgres@${server.getServerConn()}/postgres`;
    // A snapshot is the output of `prepare` for this very key: nothing left to do.
    if (startedFrom !== 'snapshot') await options.prepare(url);
    if (startedFrom === 'fresh') {
      await cache.write(options.snapshotKey, await db.dumpDataDir('none')).catch((error: Error) => log(`embedded snapshot not saved: ${error.message}`));
    }
    const [openDb, openServer] = [db, server];
    let stopped: Promise<void> | undefined;
    return {
      url,
      startedFrom,
      stop: () =>
        (stopped ??= (async () => {
          await openServer.stop();
          await openDb.close();
          releaseLock?.();
        })()),
    };
  } catch (error) {
    await server?.stop().catch(() => undefined);
    await db?.close().catch(() => undefined);
    releaseLock?.();
    throw error;
  }
}

function loadPGlite(): { PGlite: typeof PGlite; PGLiteSocketServer: typeof PGLiteSocketServer } {
  try {
    return { ...require('@electric-sql/pglite'), ...require('@electric-sql/pglite-socket') };
  } catch {
    throw new DatabaseConfigError(
      'the embedded database needs the optional packages @electric-sql/pglite and @electric-sql/pglite-socket ' +
        '(npm install @electric-sql/pglite@0.5.14 @electric-sql/pglite-socket); or set FDL_USE_DATABASE=true and DATABASE_URL',
    );
  }
}

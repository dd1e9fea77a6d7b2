import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { DATABASE_MIGRATIONS } from '../migrations';

/**
 * Where snapshots of an initialised, migrated embedded cluster are kept between starts:
 * `FDL_CACHE_DIR`, else `$XDG_CACHE_HOME/fdl-runtime-db`, else `~/.cache/fdl-runtime-db`.
 */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.FDL_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'fdl-runtime-db');
}

/** The snapshot for one cache key (PGlite's version and the migrations it was made with). */
export function snapshotPath(cacheDir: string, key: string): string {
  return join(cacheDir, `cluster-${key}.tar`);
}

/**
 * Names the schema the migrations produce, so a snapshot is only reused for the same migrations:
 * their names and their code (a migration edited under the same name, as happens before a release
 * or in an application's own migrations under development, must not be answered with a stale schema).
 */
export function snapshotKey(): string {
  // The package's exports hide its package.json: find it next to the resolved entry point.
  const entry = require.resolve('@electric-sql/pglite');
  const pglite = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')).version as string;
  return createHash('sha256')
    .update([pglite, ...DATABASE_MIGRATIONS.flatMap((migration) => [migration.name, migration.prototype.up.toString(), migration.prototype.down.toString()])].join('\n'))
    .digest('hex')
    .slice(0, 16);
}

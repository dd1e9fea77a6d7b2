import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Where snapshots of an initialised, migrated embedded cluster are kept between starts:
 * `FDL_CACHE_DIR`, else `$XDG_CACHE_HOME/fdl-runtime-db`, else `~/.cache/fdl-runtime-db`.
 */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.FDL_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'fdl-runtime-db');
}

export class SnapshotCache {
  constructor(private readonly dir: string) {}

  private path(key: string): string {
    return join(this.dir, `cluster-${key}.tar`);
  }

  read(key: string): Blob | undefined {
    try {
      return new Blob([readFileSync(this.path(key))]);
    } catch {
      return undefined;
    }
  }

  /** Written to a temporary file and renamed: a reader never sees half a snapshot. */
  async write(key: string, snapshot: Blob): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    const temporary = `${this.path(key)}.${process.pid}.tmp`;
    writeFileSync(temporary, Buffer.from(await snapshot.arrayBuffer()));
    renameSync(temporary, this.path(key));
  }

  discard(key: string): void {
    rmSync(this.path(key), { force: true });
  }
}

import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseConfigError } from '../config/database-config.error';

const LOCK_FILE = 'fdl-runtime-db.lock';

/**
 * Only one process may open an embedded data directory: PGlite does not lock it, and two writers
 * silently lose commits. The lock is a file created exclusively, holding the owner's pid; a lock
 * whose pid no longer runs is stale and taken over. Returns the function that releases it.
 */
export function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      const release = () => rmSync(path, { force: true });
      process.once('exit', release);
      return () => {
        process.removeListener('exit', release);
        release();
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(readFileSync(path, 'utf8').trim());
      // Our own pid counts too: a second open inside one process is just as unsafe.
      if (holder && isRunning(holder)) {
        throw new DatabaseConfigError(
          `FDL_DATA_DIR ${dataDir} is in use by process ${holder}: only one process may open an embedded database. ` +
            'Stop that process, or give this one another FDL_DATA_DIR.',
        );
      }
      rmSync(path, { force: true }); // stale: its process is gone
    }
  }
  throw new DatabaseConfigError(`could not lock FDL_DATA_DIR ${dataDir}`);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

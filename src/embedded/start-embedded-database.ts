import { loadDatabaseConfig } from '../config/database-config';
import { EmbeddedDatabase } from './embedded-database';
import { defaultCacheDir } from './snapshot-cache';

/**
 * Starts the embedded PostgreSQL now, in its own thread, when the environment selects it
 * (`FDL_USE_DATABASE` unset or `false`; `FDL_DATA_DIR` and `FDL_CACHE_DIR` honoured); returns
 * `undefined` otherwise.
 *
 * The module starts it by itself when it initialises; calling this first thing in `main.ts`,
 * before the application's modules load, lets the two starts overlap (about half a second on a
 * warm start). Hand the result to `DatabaseModule.forRoot({ embeddedDatabase })`. It never throws:
 * a bad environment is reported by the module, as it would be without this call.
 *
 * Import it from `fdl-runtime-db/embedded`, which loads neither Nest nor TypeORM.
 */
export function startEmbeddedDatabase(env: NodeJS.ProcessEnv = process.env): EmbeddedDatabase | undefined {
  let dataDir: string | undefined;
  try {
    const config = loadDatabaseConfig(env);
    if (config.backend !== 'embedded') return undefined;
    dataDir = config.dataDir;
  } catch {
    return undefined;
  }
  return EmbeddedDatabase.launch({ dataDir, cacheDir: defaultCacheDir(env) });
}

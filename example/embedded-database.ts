import { startEmbeddedDatabase } from '../src/embedded'; // in an application: 'fdl-runtime-db/embedded'

/**
 * The embedded database, started when the environment selects it (FDL_USE_DATABASE unset), in its
 * own thread. main.ts imports this module first, so the database comes up while the application's
 * modules load instead of after.
 */
export const embeddedDatabase = startEmbeddedDatabase();

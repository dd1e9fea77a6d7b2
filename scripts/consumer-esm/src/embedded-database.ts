// main.ts imports this file alone, statically: it starts the embedded database (when
// FDL_USE_DATABASE is not true) before the application's modules are even loaded.
import { startEmbeddedDatabase } from 'fdl-runtime-db/embedded';

export const embeddedDatabase = startEmbeddedDatabase();

// Imported first by main.ts: the light entry point loads neither Nest nor TypeORM, so the embedded
// database (started only when FDL_USE_DATABASE is unset) comes up while the application loads.
import { startEmbeddedDatabase } from 'fdl-runtime-db/embedded';

export const embeddedDatabase = startEmbeddedDatabase();

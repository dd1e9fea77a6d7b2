// The light entry point `fdl-runtime-db/embedded`: neither Nest nor TypeORM is loaded through it,
// so that `main.ts` can start the embedded database before the application's modules load.
export { startEmbeddedDatabase } from './start-embedded-database';
export type { EmbeddedDatabase } from './embedded-database';

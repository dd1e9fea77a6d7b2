/** The options given to forRoot/forRootAsync, as the module builder provides them. */
export { MODULE_OPTIONS_TOKEN as DATABASE_MODULE_OPTIONS } from './database.module-definition';

/** The validated {@link DatabaseConfig} (options merged over the environment). */
export const RESOLVED_DATABASE_CONFIG = Symbol('fdl-runtime-db:resolved-config');

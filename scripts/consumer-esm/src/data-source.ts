// The typeorm CLI's DataSource (npm run migration:run): the library's migrations, then the app's,
// under the library's migration lock and owner check.
import 'reflect-metadata';
import { MigrationDataSource, migrationDataSourceOptions } from 'fdl-runtime-db';
import { entities, migrations } from './schema.js';

export default new MigrationDataSource(migrationDataSourceOptions(process.env.DATABASE_URL, { entities, migrations }));

// The typeorm CLI's DataSource (npm run migration:run): the library's migrations, then the app's.
import 'reflect-metadata';
import { migrationDataSourceOptions } from 'fdl-runtime-db';
import { DataSource } from 'typeorm';
import { entities, migrations } from './schema.js';

export default new DataSource(migrationDataSourceOptions(process.env.DATABASE_URL ?? '', { entities, migrations }));

import { DataSource, type DataSourceOptions, type Migration } from 'typeorm';
import { withMigrationLock } from '../migrations/migration-lock';

/** A DataSource whose migration commands hold the migration lock, for the typeorm CLI. */
export class MigrationDataSource extends DataSource {
  constructor(options: DataSourceOptions) {
    super(options);
  }

  override runMigrations(options?: Parameters<DataSource['runMigrations']>[0]): Promise<Migration[]> {
    return withMigrationLock(this, () => super.runMigrations(options));
  }

  override undoLastMigration(options?: Parameters<DataSource['undoLastMigration']>[0]): Promise<void> {
    return withMigrationLock(this, () => super.undoLastMigration(options));
  }
}

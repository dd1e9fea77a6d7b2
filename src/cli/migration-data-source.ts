import { DataSource, type DataSourceOptions, type Migration } from 'typeorm';
import { withMigrationLock } from '../migrations/migration-lock';
import { assertMigrationRole } from '../migrations/migration-role';

/**
 * A DataSource whose migration commands hold the migration lock, for the typeorm CLI. `show` takes
 * it too: on a fresh database it creates the `migrations` table, which would race a concurrent run
 * (`CREATE TABLE IF NOT EXISTS` is not safe against a concurrent create), and while a run is under
 * way it would report a state that is about to change.
 */
export class MigrationDataSource extends DataSource {
  constructor(options: DataSourceOptions) {
    super(options);
  }

  override async runMigrations(options?: Parameters<DataSource['runMigrations']>[0]): Promise<Migration[]> {
    await assertMigrationRole(this);
    return withMigrationLock(this, () => super.runMigrations(options));
  }

  override async undoLastMigration(options?: Parameters<DataSource['undoLastMigration']>[0]): Promise<void> {
    await assertMigrationRole(this);
    return withMigrationLock(this, () => super.undoLastMigration(options));
  }

  override showMigrations(): Promise<boolean> {
    return withMigrationLock(this, () => super.showMigrations());
  }
}

import { DataSource } from 'typeorm';
import { DATABASE_ENTITIES } from '../../src/entities';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';

/**
 * The entities declare every column, key, check and index the migrations create, so TypeORM's schema
 * builder proposes no change on a migrated database. The DESC indexes, which `@Index` cannot describe,
 * are declared with `synchronize: false`, which leaves them to the migrations. The builder matches
 * checks, foreign keys and indexes by name: it does not compare a check's expression or an index's WHERE.
 */
describe('entities (DATABASE_ENTITIES)', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = await new DataSource({
      type: 'postgres',
      url: db.url,
      entities: DATABASE_ENTITIES,
      installExtensions: false,
      uuidExtension: 'pgcrypto',
    }).initialize();
  });
  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  it('match the migrated schema: TypeORM would change nothing', async () => {
    const proposed = (await dataSource.driver.createSchemaBuilder().log()).upQueries.map((query) => query.query);
    expect(proposed).toEqual([]);
  });
});

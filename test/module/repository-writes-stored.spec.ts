import type { INestApplication } from '@nestjs/common';
import { getRepositoryToken } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { DatabaseModule, EntityNotStoredError, Flow, TenancyService } from '../../src';
import { bootApp } from '../utils/apps';
import { asSuperuser } from '../utils/tenant-sql';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';
import { createTenants } from '../utils/tenants';

/**
 * A repository write is acknowledged only if it stored its row (issue 27). TypeORM resolves
 * `save()` whatever its UPDATE's row count; the module refuses it with EntityNotStoredError. Made
 * to happen with triggers that skip the row: the database writes nothing, as it would for a row
 * removed between TypeORM's load and its UPDATE.
 */
describe('Repository writes that store nothing', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let tenancy: TenancyService;
  let flows: Repository<Flow>;
  let tenant: string;
  const inTenant = <T>(work: () => Promise<T>) => tenancy.runInTenant(tenant, work);
  const names = () => asSuperuser(db.url, async (c) => (await c.query(`SELECT name FROM flows ORDER BY name`)).rows.map((row) => row.name));

  beforeAll(async () => {
    db = await createTestDatabase();
    [tenant] = await createTenants(db.url, ['writes']);
    app = await bootApp(DatabaseModule.forRoot({ useDatabase: true, url: db.url, readEnvironment: false, poolSize: 2 }));
    tenancy = app.get(TenancyService);
    flows = app.get(getRepositoryToken(Flow));
    await asSuperuser(db.url, (c) => c.query(`CREATE FUNCTION skip_row() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END'`));
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });
  afterEach(() => asSuperuser(db.url, (c) => c.query(`DROP TRIGGER IF EXISTS skip_update ON flows; DROP TRIGGER IF EXISTS skip_insert ON flows`)));

  it('save() of a loaded entity whose UPDATE wrote no row is refused, naming the entity', async () => {
    const flow = await inTenant(() => flows.save(flows.create({ tenantId: tenant, name: 'before' })));
    await asSuperuser(db.url, (c) => c.query(`CREATE TRIGGER skip_update BEFORE UPDATE ON flows FOR EACH ROW EXECUTE FUNCTION skip_row()`));
    await expect(inTenant(async () => flows.save({ ...(await flows.findOneByOrFail({ id: flow.id })), name: 'after' }))).rejects.toMatchObject({
      name: 'EntityNotStoredError',
      message: 'the Flow was not stored: the statement that writes it wrote no row (the row was removed meanwhile, or a trigger skipped it)',
    });
    expect(await names()).toEqual(['before']);
  });

  it('save() of a new entity whose INSERT wrote no row is refused (the compiled insert)', async () => {
    await asSuperuser(db.url, (c) => c.query(`CREATE TRIGGER skip_insert BEFORE INSERT ON flows FOR EACH ROW EXECUTE FUNCTION skip_row()`));
    await expect(inTenant(() => flows.save(flows.create({ tenantId: tenant, name: 'never' })))).rejects.toBeInstanceOf(EntityNotStoredError);
    expect(await names()).toEqual(['before']);
  });

  it('a save that stores its row, and one that changes nothing, are acknowledged as before', async () => {
    const [flow] = await inTenant(() => flows.findBy({ name: 'before' }));
    await expect(inTenant(() => flows.save({ ...flow, name: 'renamed' }))).resolves.toMatchObject({ name: 'renamed' });
    await expect(inTenant(async () => flows.save(await flows.findOneByOrFail({ id: flow.id })))).resolves.toMatchObject({ name: 'renamed' });
    expect(await names()).toEqual(['renamed']);
  });
});

import { DatabaseModule, TenancyService } from '../../src';
import { TenantContext } from '../../src/tenant-context/tenant-context';
import { bootApp } from '../utils/apps';
import { asSuperuser } from '../utils/tenant-sql';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';
import { createTenants } from '../utils/tenants';

/**
 * A transaction gives its turn at the pool back however it ends: a turn kept would be a connection
 * lost to every tenant for the life of the process. With a pool of one, the first lost turn stops
 * everything.
 */
describe('Turns at the pool are given back', () => {
  let db: TestDatabase;
  let tenant: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    [tenant] = await createTenants(db.url, ['t']);
  });
  afterAll(() => db.drop());

  it('after a transaction whose connection the server ended, the next ones still get the one connection', async () => {
    const app = await bootApp(DatabaseModule.forRoot({ useDatabase: true, url: db.url, readEnvironment: false, poolSize: 1, acquireTimeout: 1 }));
    try {
      const tenancy = app.get(TenancyService);
      const sql = (text: string) => app.get(TenantContext).require('test').manager.query(text);
      for (let round = 0; round < 3; round++) {
        await tenancy
          .runInTenant(tenant, async () => {
            const [{ pid }] = await sql('SELECT pg_backend_pid() AS pid');
            await asSuperuser(db.url, (c) => c.query('SELECT pg_terminate_backend($1)', [pid]));
            await new Promise((resolve) => setTimeout(resolve, 50));
            await sql('SELECT 1');
          })
          .catch(() => undefined);
      }
      await expect(tenancy.runInTenant(tenant, () => sql('SELECT 1 AS one'))).resolves.toEqual([{ one: 1 }]);
    } finally {
      await app.close();
    }
  });

  it('on shutdown, transactions waiting for a turn are refused at once (503), not left waiting past the application; the one holding a connection finishes', async () => {
    const app = await bootApp(DatabaseModule.forRoot({ useDatabase: true, url: db.url, readEnvironment: false, poolSize: 1, acquireTimeout: 30 }));
    const tenancy = app.get(TenancyService);
    const sql = (text: string) => app.get(TenantContext).require('test').manager.query(text);
    const holder = tenancy.runInTenant(tenant, () => sql('SELECT pg_sleep(0.3), 1 AS one'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const waiting = [1, 2].map(() => tenancy.runInTenant(tenant, () => sql('SELECT 1')).then(() => 'served', (error: Error) => error.message));
    const started = Date.now();
    await app.close();
    expect(await Promise.all(waiting)).toEqual(['database unavailable: the application is shutting down', 'database unavailable: the application is shutting down']);
    expect(Date.now() - started).toBeLessThan(5_000); // not the 30 s acquire timeout
    await expect(holder).resolves.toEqual([{ pg_sleep: '', one: 1 }]);
  });
});

import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { bootExampleApp } from '../utils/apps';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';
import { foreignRows, inParallel, mixedTenantRequests } from '../utils/tenant-load';
import { asTenant } from '../utils/tenant-sql';
import { createTenants } from '../utils/tenants';

describe('Tenant isolation under concurrency', () => {
  const TENANTS = 20;
  const REQUESTS = 2_000;
  const CONCURRENCY = 50;
  const POOL = 5;
  let db: TestDatabase;
  let app: INestApplication;
  let baseUrl: string;
  let tenants: string[];

  beforeAll(async () => {
    db = await createTestDatabase();
    tenants = await createTenants(db.url, Array.from({ length: TENANTS }, (_, i) => `tenant-${i}`));
    for (const tenantId of tenants) {
      await asTenant(
        db.url,
        tenantId,
        (c) => c.query(`INSERT INTO flows (tenant_id, name) SELECT $1::uuid, $2 || '-' || n FROM generate_series(1, 3) n`, [tenantId, tenantId]),
        true,
      );
    }
    app = await bootExampleApp(db.url, { poolSize: POOL, acquireTimeout: 30 });
    await app.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it(`${REQUESTS} requests over ${TENANTS} tenants, ${CONCURRENCY} at once on a pool of ${POOL}: no row of another tenant, every write committed`, async () => {
    const responses = await inParallel(mixedTenantRequests(baseUrl, tenants, REQUESTS), CONCURRENCY);

    const failures = responses.filter((r) => r.status >= 300);
    expect(failures).toEqual([]);
    expect(foreignRows(responses)).toEqual([]);
    // Every tenant saw only its own 3 seeded flows plus its own writes.
    const counts = await Promise.all(
      tenants.map((t) => asTenant(db.url, t, async (c) => Number((await c.query('SELECT count(*) FROM flows')).rows[0].count))),
    );
    expect(counts).toEqual(tenants.map(() => 3 + REQUESTS / 10 / TENANTS));
  });
});

import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { bootExampleApp } from '../utils/apps';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';
import { asTenant } from '../utils/tenant-sql';
import { createTenants } from '../utils/tenants';

/** Runs `tasks` with at most `limit` in flight. */
async function inParallel<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const workers = Array.from({ length: limit }, async () => {
    while (next < tasks.length) {
      const index = next++;
      results[index] = await tasks[index]();
    }
  });
  await Promise.all(workers);
  return results;
}

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
    const tasks = Array.from({ length: REQUESTS }, (_, i) => async () => {
      const tenantId = tenants[i % TENANTS];
      const headers = { 'x-tenant-id': tenantId, 'content-type': 'application/json' };
      if (Math.floor(i / TENANTS) % 10 === 0) {
        const res = await fetch(`${baseUrl}/flows`, { method: 'POST', headers, body: JSON.stringify({ name: `${tenantId}-w${i}` }) });
        return { tenantId, status: res.status, rows: [(await res.json()) as { tenantId: string; name: string }] };
      }
      const res = await fetch(`${baseUrl}/flows`, { headers });
      return { tenantId, status: res.status, rows: (await res.json()) as { tenantId: string; name: string }[] };
    });
    const responses = await inParallel(tasks, CONCURRENCY);

    const failures = responses.filter((r) => r.status >= 300);
    expect(failures).toEqual([]);
    const foreign = responses.flatMap((r) => r.rows.filter((row) => row.tenantId !== r.tenantId || !row.name.startsWith(r.tenantId)));
    expect(foreign).toEqual([]);
    // Every tenant saw only its own 3 seeded flows plus its own writes.
    const counts = await Promise.all(
      tenants.map((t) => asTenant(db.url, t, async (c) => Number((await c.query('SELECT count(*) FROM flows')).rows[0].count))),
    );
    expect(counts).toEqual(tenants.map(() => 3 + REQUESTS / 10 / TENANTS));
  });
});

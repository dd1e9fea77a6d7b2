import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';
import { AppModule } from '../../example/app.module';
import { AuditProbeService, ProbeController } from '../module/probe.module';
import { bootApp } from '../utils/apps';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';
import { asSuperuser } from '../utils/tenant-sql';
import { createTenants } from '../utils/tenants';

/** CI runs the short form; `npm run test:soak` sets SOAK_REQUESTS=20000. */
const REQUESTS = Number(process.env.SOAK_REQUESTS ?? 2_000);
const TENANTS = 50;
const CONCURRENCY = 100;
const POOL = 10;

describe(`Soak: ${REQUESTS} mixed requests over ${TENANTS} tenants, ${CONCURRENCY} at once, pool of ${POOL}`, () => {
  let db: TestDatabase;
  let app: INestApplication;
  let baseUrl: string;
  let tenants: string[];

  beforeAll(async () => {
    db = await createTestDatabase();
    tenants = await createTenants(db.url, Array.from({ length: TENANTS }, (_, i) => `soak-${i}`));
    app = await bootApp({
      module: class SoakModule {},
      imports: [AppModule.register({ useDatabase: true, url: db.url, readEnvironment: false, poolSize: POOL, acquireTimeout: 60 })],
      controllers: [ProbeController],
      providers: [AuditProbeService],
    });
    await app.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('no cross-tenant row, every acknowledged write present, every failed request\'s write absent, pool idle at the end', async () => {
    const acknowledged: string[] = [];
    const failedWrites: string[] = [];
    const foreign: unknown[] = [];
    const unexpected: string[] = [];
    let next = 0;
    const one = async (i: number) => {
      const tenantId = tenants[(i * 7) % TENANTS];
      const headers = { 'x-tenant-id': tenantId, 'content-type': 'application/json' };
      const kind = i % 20;
      if (kind < 12) {
        const res = await fetch(`${baseUrl}/flows`, { headers });
        if (res.status !== 200) return unexpected.push(`read ${res.status}`);
        for (const row of (await res.json()) as { tenantId: string; name: string }[]) {
          if (row.tenantId !== tenantId || !row.name.startsWith(tenantId)) foreign.push(row);
        }
      } else if (kind < 17) {
        const name = `${tenantId}-ok-${i}`;
        const res = await fetch(`${baseUrl}/flows`, { method: 'POST', headers, body: JSON.stringify({ name }) });
        if (res.status === 201) acknowledged.push(`${tenantId}/${name}`);
        else unexpected.push(`write ${res.status}`);
      } else {
        const name = `${tenantId}-failed-${i}`;
        const res = await fetch(`${baseUrl}/probe/write?name=${encodeURIComponent(name)}&fail=1`, { method: 'POST', headers });
        if (res.status === 400) failedWrites.push(`${tenantId}/${name}`);
        else unexpected.push(`failing write ${res.status}`);
      }
    };
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < REQUESTS) await one(next++);
      }),
    );

    expect(unexpected).toEqual([]);
    expect(foreign).toEqual([]);
    const stored = await asSuperuser(db.url, async (c) => new Set((await c.query('SELECT tenant_id, name FROM flows')).rows.map((r) => `${r.tenant_id}/${r.name}`)));
    expect(acknowledged.filter((w) => !stored.has(w))).toEqual([]);
    expect(failedWrites.filter((w) => stored.has(w))).toEqual([]);
    expect(stored.size).toBe(acknowledged.length);
    const pool = (app.get<DataSource>(getDataSourceToken()).driver as unknown as { master: Pool }).master;
    expect({ waiting: pool.waitingCount, idle: pool.idleCount }).toEqual({ waiting: 0, idle: pool.totalCount });
  }, 600_000);
});

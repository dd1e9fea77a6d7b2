import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { Client } from 'pg';
import { bootExampleApp } from '../utils/apps';
import { PG_BIN, startThrowawayCluster, type ThrowawayCluster } from '../utils/throwaway-cluster';

const describeWithServer = PG_BIN || process.env.CI ? describe : describe.skip;
if (!PG_BIN && !process.env.CI) console.warn('Database restart test skipped: no PostgreSQL server binaries (apt-get install postgresql)');

describeWithServer('Database restart under load', () => {
  let cluster: ThrowawayCluster;
  let app: INestApplication;
  let baseUrl: string;
  let tenants: string[];

  beforeAll(async () => {
    cluster = await startThrowawayCluster();
    app = await bootExampleApp(cluster.url, { poolSize: 5, acquireTimeout: 1 }); // migrates the new cluster
    await app.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    tenants = [];
    for (const name of ['a', 'b', 'c']) {
      const res = await fetch(`${baseUrl}/tenants`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) });
      tenants.push(((await res.json()) as { id: string }).id);
    }
  }, 120_000);
  afterAll(async () => {
    await app?.close();
    cluster?.destroy();
  });

  it('fails fast with 503 while the server is down, recovers without an app restart, loses no acknowledged write and crosses no tenant', async () => {
    const acknowledged = new Map<string, Set<string>>(tenants.map((t) => [t, new Set()]));
    const statuses: number[] = [];
    const foreign: unknown[] = [];
    const slow: number[] = [];
    let running = true;
    let n = 0;
    const worker = async (w: number) => {
      while (running) {
        const tenantId = tenants[(w + n) % tenants.length];
        const name = `w${w}-${n++}`;
        const started = Date.now();
        try {
          const write = await fetch(`${baseUrl}/flows`, {
            method: 'POST',
            headers: { 'x-tenant-id': tenantId, 'content-type': 'application/json' },
            body: JSON.stringify({ name }),
          });
          statuses.push(write.status);
          if (write.status === 201) acknowledged.get(tenantId)!.add(name);
          const read = await fetch(`${baseUrl}/flows`, { headers: { 'x-tenant-id': tenantId } });
          statuses.push(read.status);
          if (read.status === 200) {
            for (const row of (await read.json()) as { tenantId: string }[]) if (row.tenantId !== tenantId) foreign.push(row);
          }
        } finally {
          if (Date.now() - started > 5_000) slow.push(Date.now() - started);
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    const workers = Array.from({ length: 6 }, (_, w) => worker(w));
    await new Promise((resolve) => setTimeout(resolve, 700));
    cluster.stop();
    await new Promise((resolve) => setTimeout(resolve, 1500)); // the outage
    const duringOutage = statuses.length;
    cluster.start();
    await new Promise((resolve) => setTimeout(resolve, 2500)); // recovery
    running = false;
    await Promise.all(workers);

    expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(0); // the outage was seen, as 503
    expect(statuses.filter((s) => s !== 200 && s !== 201 && s !== 503)).toEqual([]); // never a 500
    expect(statuses.slice(duringOutage).filter((s) => s === 200 || s === 201).length).toBeGreaterThan(0); // recovered
    expect(slow).toEqual([]); // failed fast, never hung
    expect(foreign).toEqual([]);

    const client = new Client({ connectionString: cluster.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ tenant_id: string; name: string }>('SELECT tenant_id, name FROM flows');
      const stored = new Set(rows.map((r) => `${r.tenant_id}/${r.name}`));
      for (const [tenantId, names] of acknowledged) for (const name of names) expect(stored).toContain(`${tenantId}/${name}`);
    } finally {
      await client.end();
    }
  }, 60_000);
});

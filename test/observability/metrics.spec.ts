import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { AppModule } from '../../example/app.module';
import { DATABASE_MIGRATIONS } from '../../src';
import { bootApp } from '../utils/apps';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';
import { OtelHarness } from './otel-harness';

const UNKNOWN_TENANT = '00000000-0000-4000-8000-000000000000';

describe('Metrics through the OpenTelemetry metrics API (PostgreSQL)', () => {
  const otel = new OtelHarness();
  let db: TestDatabase;
  let app: INestApplication;
  let tenant: string;

  beforeAll(async () => {
    otel.start();
    db = await createTestDatabase({ migrated: false });
    app = await bootApp(AppModule.register({ readEnvironment: false, useDatabase: true, url: db.url, poolSize: 3 }));
    tenant = (await request(app.getHttpServer()).post('/tenants').send({ name: 'Acme' }).expect(201)).body.id;
    const as = (id: string) => request(app.getHttpServer()).get('/flows').set('X-Tenant-ID', id);
    await as(tenant).expect(200);
    await as(tenant).expect(200);
    await as(UNKNOWN_TENANT).expect(403);
    await request(app.getHttpServer()).post('/flows').set('X-Tenant-ID', tenant).send({ name: 'dup' }).expect(201);
    await request(app.getHttpServer()).post('/flows').set('X-Tenant-ID', tenant).send({ name: 'dup' }).expect(409);
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
    await otel.stop();
  });

  const countsBy = async (name: string, attribute: string) => {
    const counts: Record<string, number> = {};
    for (const point of await otel.metric(name)) {
      const key = `${point.attributes[attribute]}`;
      counts[key] = (counts[key] ?? 0) + ((point.value as { count?: number }).count ?? (point.value as number));
    }
    return counts;
  };

  it('fdl.transaction.duration counts transactions by outcome (and scope)', async () => {
    const points = await otel.metric('fdl.transaction.duration');
    expect(points.every((point) => point.scope === 'fdl-runtime-db')).toBe(true);
    const tenantPoints = points.filter((point) => point.attributes['fdl.transaction.scope'] === 'tenant');
    const byOutcome = Object.fromEntries(tenantPoints.map((p) => [p.attributes['fdl.transaction.outcome'], (p.value as { count: number }).count]));
    expect(byOutcome).toEqual({ committed: 3, refused_tenant: 1, rolled_back: 1 });
    expect(points.some((point) => point.attributes['fdl.transaction.scope'] === 'system')).toBe(true);
  });

  it('fdl.prelude.refusals counts refused tenants by reason', async () => {
    await expect(countsBy('fdl.prelude.refusals', 'fdl.refusal.reason')).resolves.toEqual({ unknown: 1 });
  });

  it('fdl.migrations.applied counts the migrations applied at start', async () => {
    await expect(countsBy('fdl.migrations.applied', 'none')).resolves.toEqual({ undefined: DATABASE_MIGRATIONS.length });
  });

  it('db.client.connection.count and pending_requests report the pool (used, idle, waiting)', async () => {
    const own = (await otel.metric('db.client.connection.count')).filter((point) => point.scope === 'fdl-runtime-db');
    const byState = Object.fromEntries(own.map((point) => [point.attributes['db.client.connection.state'], point.value]));
    expect(byState.used).toBe(0);
    expect(byState.idle).toBeGreaterThanOrEqual(1);
    const server = new URL(process.env.FDL_TEST_SERVER_URL!);
    expect(own[0].attributes['db.client.connection.pool.name']).toMatch(new RegExp(`^${server.hostname}:${server.port || 5432}/fdl_test_`));
    const pending = (await otel.metric('db.client.connection.pending_requests')).filter((point) => point.scope === 'fdl-runtime-db');
    expect(pending.map((point) => point.value)).toEqual([0]);
    const max = (await otel.metric('db.client.connection.max')).filter((point) => point.scope === 'fdl-runtime-db');
    expect(max.map((point) => point.value)).toEqual([3]);
  });

  it('fdl.tenant.connections.held counts connections by scope, back to 0 when all are released, without the tenant id unless asked', async () => {
    const held = await otel.metric('fdl.tenant.connections.held');
    const byScope = Object.fromEntries(held.map((point) => [point.attributes['fdl.transaction.scope'], point.value]));
    expect(byScope).toEqual({ tenant: 0, system: 0 });
    expect(held.every((point) => point.attributes['fdl.tenant.id'] === undefined)).toBe(true);
  });

  it('db.client.operation.duration counts the first statement as itself, never as BEGIN', async () => {
    const operations = await countsBy('db.client.operation.duration', 'db.operation.name');
    expect(operations.BEGIN).toBeUndefined();
    expect(operations.SELECT).toBeGreaterThanOrEqual(2);
    expect(operations.INSERT).toBeGreaterThanOrEqual(2);
  });
});

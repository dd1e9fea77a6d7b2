import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { ExampleBackend, RunningExample } from '../utils/backends';
import { asSystem } from '../utils/tenant-sql';

/**
 * The example API's e2e cases, the same on every backend: test/example/example-api.spec.ts runs them
 * on one PostgreSQL node and the embedded database, test/citus/citus-example-api.spec.ts through a
 * Citus coordinator. Call it inside a `describe`.
 */
export function exampleApiSuite(backend: ExampleBackend): void {
  let running: RunningExample;
  let db: { url: string };
  let app: INestApplication;
  let acme: string;
  let globex: string;
  const http = () => request(app.getHttpServer());
  const as = (tenantId: string) => ({
    get: (path: string) => http().get(path).set('X-Tenant-ID', tenantId),
    post: (path: string, body: object) => http().post(path).set('X-Tenant-ID', tenantId).send(body),
  });

  beforeAll(async () => {
    running = await backend.start();
    app = running.app;
    db = { url: running.url };
    acme = (await http().post('/tenants').send({ name: 'Acme' }).expect(201)).body.id;
    globex = (await http().post('/tenants').send({ name: 'Globex' }).expect(201)).body.id;
  }, 180_000); // the embedded backend starts a database (initdb and migrations when nothing is cached)
  afterAll(() => running?.close());

  it('POST /tenants creates a tenant through the system path and returns its id', async () => {
    const res = await http().post('/tenants').send({ name: 'Initech' }).expect(201);
    expect(res.body).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), name: 'Initech', status: 'active' });
  });

  it('each tenant lists only its own flows', async () => {
    await as(acme).post('/flows', { name: 'billing', description: 'monthly run' }).expect(201);
    await as(globex).post('/flows', { name: 'shipping' }).expect(201);
    const acmeFlows = (await as(acme).get('/flows').expect(200)).body;
    const globexFlows = (await as(globex).get('/flows').expect(200)).body;
    expect(acmeFlows.map((f: { name: string }) => f.name)).toEqual(['billing']);
    expect(globexFlows.map((f: { name: string }) => f.name)).toEqual(['shipping']);
  });

  it('GET /flows/:id is 404 for another tenant\'s flow', async () => {
    const flow = (await as(acme).post('/flows', { name: 'private' }).expect(201)).body;
    await as(acme).get(`/flows/${flow.id}`).expect(200);
    const res = await as(globex).get(`/flows/${flow.id}`).expect(404);
    expect(JSON.stringify(res.body)).not.toContain(acme);
  });

  it('a duplicate flow name is 409 within a tenant, without constraint details, and fine in another tenant', async () => {
    await as(acme).post('/flows', { name: 'dup' }).expect(201);
    const res = await as(acme).post('/flows', { name: 'dup' }).expect(409);
    expect(res.body.message).toBe('a flow with this name already exists');
    expect(JSON.stringify(res.body)).not.toMatch(/UQ_|constraint|duplicate key|INSERT/i);
    await as(globex).post('/flows', { name: 'dup' }).expect(201);
  });

  it('publishes numbered versions and makes the latest current', async () => {
    const flow = (await as(acme).post('/flows', { name: 'versioned' }).expect(201)).body;
    const v1 = (await as(acme).post(`/flows/${flow.id}/versions`, { definition: { steps: ['a'] } }).expect(201)).body;
    const v2 = (await as(acme).post(`/flows/${flow.id}/versions`, { definition: { steps: ['a', 'b'] } }).expect(201)).body;
    expect([v1.version, v2.version]).toEqual([1, 2]);
    expect(v2.contentHash).toMatch(/^[0-9a-f]{64}$/);
    const versions = (await as(acme).get(`/flows/${flow.id}/versions`).expect(200)).body;
    expect(versions.map((v: { version: number }) => v.version)).toEqual([1, 2]);
    expect((await as(acme).get(`/flows/${flow.id}`).expect(200)).body.currentVersionId).toBe(v2.id);
    await as(globex).get(`/flows/${flow.id}/versions`).expect(404);
    await as(globex).post(`/flows/${flow.id}/versions`, { definition: { steps: [] } }).expect(404);
  });

  it('records an audit entry with every write, visible only to its tenant', async () => {
    const flow = (await as(globex).post('/flows', { name: 'audited' }).expect(201)).body;
    const entries = (await as(globex).get('/audit-logs').expect(200)).body;
    expect(entries).toContainEqual(expect.objectContaining({ action: 'flow.created', targetId: flow.id, tenantId: globex }));
    expect(entries.every((e: { tenantId: string }) => e.tenantId === globex)).toBe(true);
  });

  it.each([
    ['POST /flows without name', '/flows', {}, /name/],
    ['POST /flows with a numeric name', '/flows', { name: 42 }, /name/],
    ['POST /flows with an empty name', '/flows', { name: '' }, /name/],
    ['POST /flows with a 10 kB name', '/flows', { name: 'x'.repeat(10_000) }, /name/],
    ['POST /flows naming another tenant', '/flows', { name: 'sneaky', tenantId: '00000000-0000-4000-8000-000000000000' }, /tenantId/],
    ['POST /tenants without name', '/tenants', {}, /name/],
  ])('%s → 400 naming the field, nothing written', async (_case, path, body, field) => {
    const before = await asSystem(db.url, async (c) => (await c.query('SELECT (SELECT count(*) FROM flows) + (SELECT count(*) FROM tenants) AS n')).rows[0].n);
    const res = await as(acme).post(path, body).expect(400);
    expect(JSON.stringify(res.body.message)).toMatch(field);
    const after = await asSystem(db.url, async (c) => (await c.query('SELECT (SELECT count(*) FROM flows) + (SELECT count(*) FROM tenants) AS n')).rows[0].n);
    expect(after).toBe(before);
  });

  it('POST /flows/:id/versions without a definition object → 400 naming definition', async () => {
    const flow = (await as(acme).post('/flows', { name: 'needs-definition' }).expect(201)).body;
    const res = await as(acme).post(`/flows/${flow.id}/versions`, { definition: 'not an object' }).expect(400);
    expect(JSON.stringify(res.body.message)).toMatch(/definition/);
  });

  it('runs an execution: start, save with the version, 409 on a stale version, complete, then no going back', async () => {
    const flow = (await as(acme).post('/flows', { name: 'runnable' }).expect(201)).body;
    const version = (await as(acme).post(`/flows/${flow.id}/publish`, { definition: { steps: ['x'] } }).expect(201)).body;
    const started = (await as(acme).post('/executions', { flowVersionId: version.id, input: { n: 1 } }).expect(201)).body;
    expect(started).toMatchObject({ status: 'running', version: 1 });
    const patch = (body: object) => http().patch(`/executions/${started.id}`).set('X-Tenant-ID', acme).send(body);
    await patch({ state: { step: 1 }, expectedVersion: 1 }).expect(200);
    const stale = await patch({ state: { step: 'lost' }, expectedVersion: 1 }).expect(409);
    expect(stale.body.message).toBe('execution is at version 2, not 1: reload it and retry');
    await patch({ status: 'completed', expectedVersion: 2 }).expect(200);
    const back = await patch({ status: 'running', expectedVersion: 3 }).expect(409);
    expect(back.body.message).toBe('execution status cannot go from completed to running');
    expect((await as(acme).get(`/executions/${started.id}`).expect(200)).body).toMatchObject({ status: 'completed', state: { step: 1 }, version: 3 });
    await as(globex).get(`/executions/${started.id}`).expect(404);
    await as(globex).post('/executions', { flowVersionId: version.id }).expect(404);
  });

  it('GET /executions pages latest first and filters by status', async () => {
    const flow = (await as(globex).post('/flows', { name: 'paged' }).expect(201)).body;
    const version = (await as(globex).post(`/flows/${flow.id}/publish`, { definition: { steps: [] } }).expect(201)).body;
    for (let i = 0; i < 3; i++) await as(globex).post('/executions', { flowVersionId: version.id }).expect(201);
    const first = (await as(globex).get('/executions?limit=2&status=running').expect(200)).body;
    expect(first.items).toHaveLength(2);
    const second = (await as(globex).get(`/executions?limit=2&status=running&cursor=${first.nextCursor}`).expect(200)).body;
    expect(second).toMatchObject({ items: [expect.any(Object)], nextCursor: null });
    await as(globex).get('/executions?limit=0').expect(400);
    await as(globex).get('/executions?status=exploded').expect(400);
    await as(globex).get('/executions?cursor=garbage').expect(400);
  });

  it('GET /audit-logs/verify reports an intact chain, with its digest', async () => {
    const res = await as(acme).get('/audit-logs/verify').expect(200);
    expect(res.body).toEqual({ ok: true, entries: expect.any(Number), digest: expect.objectContaining({ position: res.body.entries }) });
    expect(res.body.entries).toBeGreaterThan(3);
  });

  it('POST /audit-logs/verify checks the chain against a digest kept from earlier; a malformed one is a 400', async () => {
    const digest = (await as(acme).get('/audit-logs/digest').expect(200)).body;
    expect(digest).toMatchObject({ position: expect.any(Number), hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    await as(acme).post('/flows', { name: 'after the digest' }).expect(201);
    const verified = (await as(acme).post('/audit-logs/verify', { digest }).expect(200)).body;
    expect(verified).toMatchObject({ ok: true, digest: { position: digest.position + 1 } });
    const refused = await as(acme).post('/audit-logs/verify', { digest: { ...digest, hash: 'forged' } }).expect(400);
    expect(refused.body.message).toMatch(/digest.hash must be/);
    // Another tenant's digest is not this chain's.
    await as(globex).post('/audit-logs/verify', { digest }).expect(400);
  });

  it.each([
    ['no tenant header', 400, undefined],
    ['a malformed tenant id', 400, 'acme'],
    ['an unknown tenant', 403, '00000000-0000-4000-8000-000000000000'],
  ])('%s → %i, nothing written', async (_case, status, header) => {
    const before = await asSystem(db.url, async (c) => (await c.query('SELECT count(*)::int AS n FROM flows')).rows[0].n);
    const req = http().post('/flows').send({ name: 'refused' });
    await (header === undefined ? req : req.set('X-Tenant-ID', header)).expect(status);
    expect(await asSystem(db.url, async (c) => (await c.query('SELECT count(*)::int AS n FROM flows')).rows[0].n)).toBe(before);
  });

  it('a failed request rolls back everything it wrote (no audit entry for a refused duplicate)', async () => {
    await as(acme).post('/flows', { name: 'once' }).expect(201);
    const audits = () => asSystem(db.url, async (c) => (await c.query(`SELECT count(*)::int AS n FROM audit_logs WHERE tenant_id = $1`, [acme])).rows[0].n);
    const before = await audits();
    await as(acme).post('/flows', { name: 'once' }).expect(409);
    expect(await audits()).toBe(before);
  });

  it('GET /health reports the database reachable, migrated, and the pool', async () => {
    const res = await http().get('/health').expect(200);
    expect(res.body.info.database).toMatchObject({ status: 'up', reachable: true, pendingMigrations: false, pool: { size: expect.any(Number) } });
  });

  it('a malformed flow id is 400, not a database error', async () => {
    await as(acme).get('/flows/not-a-uuid').expect(400);
  });
}

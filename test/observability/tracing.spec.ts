import type { INestApplication } from '@nestjs/common';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import request from 'supertest';
import { AppModule } from '../../example/app.module';
import { DataSource } from 'typeorm';
import { ObservabilityConfigError, type DatabaseModuleOptions, TenancyService } from '../../src';
import { PreparedStatements } from '../../src/connection/prepared-statements';
import { bootApp } from '../utils/apps';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';
import { OtelHarness } from './otel-harness';

const otel = new OtelHarness().start();
afterAll(() => otel.stop());

// Round trips are counted as the server's ReadyForQuery messages, one per Sync or simple query.
const Connection = require('pg/lib/connection') as { prototype: { emit(event: string, ...args: unknown[]): boolean } };
let roundTrips = 0;
const emit = Connection.prototype.emit;
Connection.prototype.emit = function (event: string, ...args: unknown[]) {
  if (event === 'readyForQuery') roundTrips++;
  return emit.call(this, event, ...args);
};
afterAll(() => void (Connection.prototype.emit = emit));

const UNKNOWN_TENANT = '00000000-0000-4000-8000-000000000000';

const BACKENDS: { name: string; options(db: TestDatabase): DatabaseModuleOptions }[] = [
  { name: 'PostgreSQL', options: (db) => ({ useDatabase: true, url: db.url }) },
  { name: 'embedded PGlite', options: () => ({ useDatabase: false }) },
];

interface Trace {
  status: number;
  body: { id?: string };
  server: ReadableSpan;
  db: ReadableSpan[];
  roundTrips: number;
}

describe.each(BACKENDS)('Traces of the example API on $name (instrumentation-pg and -http in process)', (backend) => {
  let db: TestDatabase;
  let app: INestApplication;
  let tenant: string;

  /** Sends one request; returns its HTTP server span and the database spans of its trace. */
  async function traced(send: (agent: ReturnType<typeof request>) => request.Test): Promise<Trace> {
    otel.spans.reset();
    roundTrips = 0;
    const res = await send(request(app.getHttpServer()));
    const trips = roundTrips;
    let server: ReadableSpan | undefined;
    for (let i = 0; i < 50 && !server; i++) {
      server = otel.finishedSpans().find((span) => span.kind === SpanKind.SERVER);
      if (!server) await new Promise((resolve) => setImmediate(resolve));
    }
    const db = otel
      .finishedSpans()
      .filter((span) => span.kind === SpanKind.CLIENT && span.attributes['db.system.name'] === 'postgresql' && !span.name.startsWith('pg-pool') && !span.name.startsWith('pg.connect'));
    return { status: res.status, body: res.body, server: server!, db, roundTrips: trips };
  }
  const names = (trace: Trace) => trace.db.map((span) => span.name.replace(/ .*$/, ''));
  const asTenant = (id: string) => ({
    read: () => traced((agent) => agent.get('/flows').set('X-Tenant-ID', id)),
    write: (name: string) => traced((agent) => agent.post('/flows').set('X-Tenant-ID', id).send({ name })),
  });

  beforeAll(async () => {
    otel.configurePg({});
    db = await createTestDatabase({ migrated: false });
    app = await bootApp(AppModule.register({ readEnvironment: false, ...backend.options(db) }));
    tenant = (await request(app.getHttpServer()).post('/tenants').send({ name: 'Acme' }).expect(201)).body.id;
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('a read: the prelude is a span of its own, the first statement is named and timed as itself', async () => {
    const trace = await asTenant(tenant).read();
    expect(trace.status).toBe(200);
    expect(names(trace)).toEqual(['fdl.prelude', 'pg.query:SELECT', 'pg.query:COMMIT']);
    const [prelude, first] = trace.db;
    expect(prelude.attributes).toMatchObject({ 'db.operation.name': 'BATCH', 'fdl.transaction.scope': 'tenant' });
    // Guarded (6 statements) or not (3), as the connection's last use decides (session-guard.ts).
    const guarded = String(prelude.attributes['db.query.text']).includes('fdl_assert_clean_session');
    expect(prelude.attributes['db.operation.batch.size']).toBe(guarded ? 6 : 3);
    expect(prelude.attributes['db.query.text']).toMatch(
      /^BEGIN ISOLATION LEVEL READ COMMITTED, READ WRITE; (SET LOCAL ROLE fdl_app; SELECT public\.fdl_assert_clean_session\(\); RESET ALL; )?SELECT pg_catalog\.set_config\('role', 'fdl_app', true\), pg_catalog\.set_config\('app\.current_tenant_id'.*; SELECT public\.fdl_require_active_tenant\(\)$/,
    );
    expect(first.attributes['db.query.text']).toMatch(/^SELECT .*FROM "flows"/);
    expect(first.attributes['db.query.text']).not.toContain('BEGIN');
    // Every database span is a child of its request's HTTP span.
    for (const span of trace.db) {
      expect(span.spanContext().traceId).toBe(trace.server.spanContext().traceId);
      expect(span.parentSpanContext?.spanId).toBe(trace.server.spanContext().spanId);
    }
    expect(trace.roundTrips).toBe(2); // prelude + SELECT, then COMMIT
  });

  it('a write: INSERT is its own span; nothing records a parameter value or the tenant by default', async () => {
    const trace = await asTenant(tenant).write('billing');
    expect(trace.status).toBe(201);
    expect(names(trace)).toContain('pg.query:INSERT');
    expect(names(trace).some((name) => name.includes('BEGIN'))).toBe(false);
    const everything = JSON.stringify([trace.server.attributes, ...trace.db.map((span) => span.attributes)]);
    expect(everything).not.toContain(tenant);
    expect(everything).not.toContain('billing');
  });

  it('a refused tenant: 403, the refusal on the prelude span, no span for the statement the server skipped', async () => {
    const trace = await asTenant(UNKNOWN_TENANT).read();
    expect(trace.status).toBe(403);
    expect(names(trace)).toEqual(['fdl.prelude', 'pg.query:ROLLBACK']);
    expect(trace.db[0].status).toEqual({ code: SpanStatusCode.ERROR, message: 'the tenant does not exist or is not active' });
    expect(trace.db[0].attributes['error.type']).toBe('FDL03');
  });

  it("a failing statement: the application's error lands on the application's statement, not on the prelude", async () => {
    await asTenant(tenant).write('dup');
    const trace = await asTenant(tenant).write('dup');
    expect(trace.status).toBe(409);
    const [prelude, insert] = trace.db;
    expect(prelude.name).toMatch(/^fdl\.prelude/);
    expect(prelude.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(insert.name).toMatch(/^pg\.query:INSERT/);
    expect(insert.status.code).toBe(SpanStatusCode.ERROR);
    expect(insert.status.message).toMatch(/duplicate key/);
    expect(insert.attributes['error.type']).toBe('23505');
  });

  describe('with addSqlCommenterCommentToQueries', () => {
    beforeAll(() => otel.configurePg({ addSqlCommenterCommentToQueries: true }));
    afterAll(() => otel.configurePg({}));

    it('reads, writes and refuses as without it, in the same round trips', async () => {
      const read = await asTenant(tenant).read();
      expect([read.status, read.roundTrips]).toEqual([200, 2]);
      expect(names(read)).toEqual(['fdl.prelude', 'pg.query:SELECT', 'pg.query:COMMIT']);
      expect((await asTenant(tenant).write('commented')).status).toBe(201);
      expect((await asTenant(UNKNOWN_TENANT).read()).status).toBe(403);
    });
  });

  it('without instrumentation-pg (unpatched), the module makes no database spans of its own', async () => {
    const Client = require('pg').Client as { prototype: { query: { __original?: unknown } } };
    const wrapped = Client.prototype.query;
    Client.prototype.query = wrapped.__original as never;
    try {
      const trace = await asTenant(tenant).read();
      expect([trace.status, trace.db.length, trace.roundTrips]).toEqual([200, 0, 2]);
    } finally {
      Client.prototype.query = wrapped;
    }
  });
});

describe('Options of the module and of instrumentation-pg (PostgreSQL)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    otel.configurePg({});
    await db?.drop();
  });

  it('refuses enableTraceContextPropagation at start, naming the option', async () => {
    otel.configurePg({ enableTraceContextPropagation: true });
    const booting = bootApp(AppModule.register({ readEnvironment: false, useDatabase: true, url: db.url }));
    await expect(booting).rejects.toBeInstanceOf(ObservabilityConfigError);
    await expect(booting).rejects.toThrow(/enableTraceContextPropagation/);
    otel.configurePg({});
  });

  // 'true' as a ConfigService gives it: read as the boolean, like every other boolean option.
  it.each([true, 'true'])('tenantIdOnSpans (%p) puts the tenant on the request span and the prelude spans (off by default: see above)', async (tenantIdOnSpans) => {
    const app = await bootApp(AppModule.register({ readEnvironment: false, useDatabase: true, url: db.url, tenantIdOnSpans }));
    try {
      const tenant = (await request(app.getHttpServer()).post('/tenants').send({ name: 'Initech' }).expect(201)).body.id;
      otel.spans.reset();
      await request(app.getHttpServer()).get('/flows').set('X-Tenant-ID', tenant).expect(200);
      const spans = otel.finishedSpans();
      expect(spans.find((span) => span.kind === SpanKind.SERVER)?.attributes['fdl.tenant.id']).toBe(tenant);
      expect(spans.filter((span) => span.attributes['fdl.tenant.id'] === tenant).map((span) => span.name.replace(/ .*$/, '')).sort()).toEqual(
        ['GET', 'fdl.prelude', 'pg.query:SELECT'].sort(),
      );
    } finally {
      await app.close();
    }
  });

  it('a lifecycle write is a span named after its audit action, the parent of its statement', async () => {
    const app = await bootApp(AppModule.register({ readEnvironment: false, useDatabase: true, url: db.url }));
    try {
      const tenant = (await request(app.getHttpServer()).post('/tenants').send({ name: 'Hooli' }).expect(201)).body.id;
      const flow = (await request(app.getHttpServer()).post('/flows').set('X-Tenant-ID', tenant).send({ name: 'traced' }).expect(201)).body.id;
      otel.spans.reset();
      await request(app.getHttpServer()).post(`/flows/${flow}/publish`).set('X-Tenant-ID', tenant).send({ definition: { steps: [] } }).expect(201);
      const spans = otel.finishedSpans();
      const publish = spans.find((span) => span.name === 'fdl.flow.version_published');
      expect(publish?.attributes['fdl.audit.action']).toBe('flow.version_published');
      const children = spans.filter((span) => span.parentSpanContext?.spanId === publish!.spanContext().spanId).map((span) => span.name.replace(/ .*$/, ''));
      expect(children).toContain('pg.query:WITH');
    } finally {
      await app.close();
    }
  });

  it.each(['tenantIdOnSpans', 'tenantIdOnMetrics'])('a %s that is not a boolean stops the start, naming the option', async (option) => {
    await expect(bootApp(AppModule.register({ readEnvironment: false, useDatabase: true, url: db.url, [option]: 'yes' }))).rejects.toThrow(
      `${option} must be true or false (or 'true'/'false'), got "yes"`,
    );
  });
});

describe('Traces when the server connection lost a prepared statement (PostgreSQL)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('the round trip sent again, its statements parsed again: one prelude span, one span of the first statement, every span ended', async () => {
    // One connection, so the request below meets the statements this one prepared.
    const app = await bootApp(AppModule.register({ readEnvironment: false, useDatabase: true, url: db.url, poolSize: 1 }));
    try {
      const tenant = (await request(app.getHttpServer()).post('/tenants').send({ name: 'Hooli' }).expect(201)).body.id;
      await request(app.getHttpServer()).get('/flows').set('X-Tenant-ID', tenant).expect(200);
      // Only the SELECT's statement is gone (as behind a pooler): the prelude's Binds succeed and
      // complete before the SELECT's fails, so the prelude is reported complete twice.
      await app.get(TenancyService).runInTenant(tenant, async () => {
        const manager = app.get(DataSource).manager;
        const [select] = await manager.query(`SELECT name FROM pg_prepared_statements WHERE statement LIKE 'SELECT %FROM "flows"%' AND name LIKE 'fdl_%'`);
        await manager.query(`DEALLOCATE "${select.name}"`);
      });
      otel.spans.reset();
      await request(app.getHttpServer()).get('/flows').set('X-Tenant-ID', tenant).expect(200);
      expect(app.get(PreparedStatements).enabled).toBe(true);
      const spans = otel.finishedSpans();
      const server = spans.find((span) => span.kind === SpanKind.SERVER)!;
      const statements = spans.filter((span) => span.spanContext().traceId === server.spanContext().traceId && /^(fdl\.prelude|pg\.query)/.test(span.name));
      expect(statements.map((span) => span.name.replace(/ .*$/, ''))).toEqual(['fdl.prelude', 'pg.query:SELECT', 'pg.query:COMMIT']);
      expect(otel.unendedSpans(server.spanContext().traceId)).toEqual([]);
    } finally {
      await app.close();
    }
  });
});

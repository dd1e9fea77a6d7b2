import { SpanKind } from '@opentelemetry/api';
import request from 'supertest';
import { AppModule } from '../../example/app.module';
import { bootApp } from '../utils/apps';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';
import { OtelHarness } from './otel-harness';

// An application that traces its routes with instrumentation-express: the span active in a
// handler is express's `request handler`, a child of the HTTP server span.
const otel = new OtelHarness({ express: true }).start();
afterAll(() => otel.stop());

describe('tenantIdOnSpans with instrumentation-express', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db?.drop());

  it("puts the tenant on the request's HTTP server span, not only on express's request handler span", async () => {
    const app = await bootApp(AppModule.register({ readEnvironment: false, useDatabase: true, url: db.url, tenantIdOnSpans: true }));
    try {
      const tenant = (await request(app.getHttpServer()).post('/tenants').send({ name: 'Globex' }).expect(201)).body.id;
      otel.spans.reset();
      await request(app.getHttpServer()).get('/flows').set('X-Tenant-ID', tenant).expect(200);
      const spans = otel.finishedSpans();
      const handler = spans.find((span) => span.name.startsWith('request handler'));
      expect(handler).toBeDefined(); // express is instrumented: the handler runs in its span
      expect(spans.find((span) => span.kind === SpanKind.SERVER)?.attributes['fdl.tenant.id']).toBe(tenant);
      expect(handler!.attributes['fdl.tenant.id']).toBe(tenant);
    } finally {
      await app.close();
    }
  });
});

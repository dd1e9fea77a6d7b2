import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { bootExampleApp } from '../utils/apps';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';
import { asSuperuser } from '../utils/tenant-sql';
import { createTenants } from '../utils/tenants';

/** Sends raw bytes as an HTTP request (for what HTTP clients refuse to send) and returns the status. */
function rawStatus(port: number, head: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    // write, not end: a client's FIN makes Node's HTTP server abort a request still being handled
    // (httpAllowHalfOpen is off), and the answer would be lost. `Connection: close` ends it after.
    const socket = connect(port, '127.0.0.1', () => socket.write(head));
    let data = '';
    socket.on('data', (chunk) => (data += chunk.toString('latin1')));
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0)));
    socket.on('error', reject);
  });
}

describe('Bad input', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let port: number;
  let acme: string;
  let other: string;
  let flowId: string;
  let versionId: string;
  let executionId: string;
  const counts = () =>
    asSuperuser(db.url, async (c) =>
      (await c.query(`SELECT (SELECT count(*) FROM tenants) t, (SELECT count(*) FROM flows) f, (SELECT count(*) FROM flow_versions) v,
                             (SELECT count(*) FROM execution_snapshots) e, (SELECT sum(version) FROM execution_snapshots) ev,
                             (SELECT count(*) FROM audit_logs) a`)).rows[0],
    );

  beforeAll(async () => {
    db = await createTestDatabase();
    [acme, other] = await createTenants(db.url, ['acme', 'other']);
    app = await bootExampleApp(db.url);
    await app.listen(0, '127.0.0.1');
    port = (app.getHttpServer().address() as AddressInfo).port;
    const as = (path: string, body: object) => request(app.getHttpServer()).post(path).set('X-Tenant-ID', acme).send(body);
    flowId = (await as('/flows', { name: 'f' }).expect(201)).body.id;
    versionId = (await as(`/flows/${flowId}/publish`, { definition: { steps: [] } }).expect(201)).body.id;
    executionId = (await as('/executions', { flowVersionId: versionId }).expect(201)).body.id;
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  describe('tenant header', () => {
    it.each([
      ['a 10 kB value', 'x'.repeat(10_000)],
      ['SQL injection', "'; DROP TABLE flows; --"],
      ['a UUID with a trailing newline escape', `${'6f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f'}\\n`],
      ['a braced UUID', '{6f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f}'],
      ['a UUID without dashes', '6f1c2d4e5a6b4c7d8e9f0a1b2c3d4e5f'],
      ['a repeated header', ['6f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f', '7f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f']],
    ])('%s → 400, nothing read or written', async (_case, value) => {
      const before = await counts();
      const res = await request(app.getHttpServer()).post('/flows').set('X-Tenant-ID', value as string).send({ name: 'never' });
      expect(res.status).toBe(400);
      expect(await counts()).toEqual(before);
    });

    it('a NUL byte in the header is refused before the application sees it', async () => {
      const status = await rawStatus(port, Buffer.from(`GET /flows HTTP/1.1\r\nHost: x\r\nX-Tenant-ID: ${acme}\0\r\nConnection: close\r\n\r\n`, 'latin1'));
      expect(status).toBe(400);
    });

    // A tenant whose id has both an 'a' and a '1' to disguise: a random id may have neither, and
    // its "look-alike" would then be the real id.
    const disguised = 'a1b2c3d4-e5f6-4a1b-8c2d-3e4f5a6b7c8d';
    it.each([
      ['fullwidth digits', disguised.replace(/1/g, '\uff11')],
      ['Cyrillic letters', disguised.replace(/a/g, '\u0430')],
    ])('unicode look-alikes of a real tenant id (%s) → 400', async (_case, lookAlike) => {
      await asSuperuser(db.url, (c) => c.query(`INSERT INTO tenants (id, name) VALUES ($1, 'disguised') ON CONFLICT DO NOTHING`, [disguised]));
      expect(lookAlike).not.toBe(disguised);
      const status = await rawStatus(port, Buffer.concat([Buffer.from(`GET /flows HTTP/1.1\r\nHost: x\r\nX-Tenant-ID: `), Buffer.from(lookAlike, 'utf8'), Buffer.from('\r\nConnection: close\r\n\r\n')]));
      expect(status).toBe(400);
    });
  });

  describe('bodies', () => {
    const bodies: [string, unknown][] = [
      ['an empty object', {}],
      ['an array', [1, 2]],
      ['a string', 'text'],
      ['null fields', { name: null, definition: null, flowVersionId: null, state: null, expectedVersion: null }],
      ['wrong types', { name: 42, definition: 'x', flowVersionId: 7, state: 'x', expectedVersion: 'one', input: 3 }],
      ['a huge string', { name: 'x'.repeat(100_000), flowVersionId: 'y'.repeat(10_000) }],
      ['another tenant named', { tenantId: '00000000-0000-4000-8000-000000000000', tenant_id: '00000000-0000-4000-8000-000000000000' }],
      ['a prototype-pollution key', JSON.parse('{"__proto__": {"admin": true}, "name": {"$gt": ""}}')],
      ['a negative version', { state: {}, expectedVersion: -1 }],
      ['an illegal status', { status: 'exploded', expectedVersion: 1 }],
    ];
    const endpoints = () => [
      ['POST', '/tenants'],
      ['POST', '/flows'],
      ['POST', `/flows/${flowId}/versions`],
      ['POST', `/flows/${flowId}/publish`],
      ['POST', '/executions'],
      ['PATCH', `/executions/${executionId}`],
    ];

    it('every example endpoint answers every malformed body with 4xx naming a field, never 500, and writes nothing', async () => {
      const before = await counts();
      const failures: string[] = [];
      for (const [method, path] of endpoints()) {
        for (const [label, body] of bodies) {
          const req = method === 'POST' ? request(app.getHttpServer()).post(path) : request(app.getHttpServer()).patch(path);
          const res = await req.set('X-Tenant-ID', acme).set('content-type', 'application/json').send(JSON.stringify(body));
          if (res.status < 400 || res.status >= 500) failures.push(`${method} ${path} with ${label}: ${res.status}`);
          const text = JSON.stringify(res.body);
          if (res.status === 400 && !/name|definition|flowVersionId|input|state|status|expectedVersion|tenantId|tenant_id|property|JSON/.test(JSON.stringify(res.body.message))) {
            failures.push(`${method} ${path} with ${label}: 400 names no field: ${text}`);
          }
          if (/constraint|duplicate key|SELECT|INSERT|UPDATE|relation "|PK_|UQ_|FK_/i.test(text)) failures.push(`${method} ${path} with ${label} leaks SQL: ${text}`);
          if (text.includes(other)) failures.push(`${method} ${path} with ${label} leaks another tenant's id`);
        }
      }
      expect(failures).toEqual([]);
      expect(await counts()).toEqual(before);
    });

    it('malformed JSON → 400', async () => {
      const res = await request(app.getHttpServer()).post('/flows').set('X-Tenant-ID', acme).set('content-type', 'application/json').send('{"name": ');
      expect(res.status).toBe(400);
    });
  });
});

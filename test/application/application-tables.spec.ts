import type { INestApplication } from '@nestjs/common';
import { getDataSourceToken, getRepositoryToken } from '@nestjs/typeorm';
import request from 'supertest';
import type { DataSource, Repository } from 'typeorm';
import { assertTenantIsolation, DatabaseModule, Flow, runPendingMigrations, TenancyService, Tenant, TenantIsolationError, tenantTable } from '../../src';
import { bootApp } from '../utils/apps';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';
import { Comment, commentsApp, CommentsModule } from './comments.fixture';

const BACKENDS = [
  { name: 'PostgreSQL', embedded: false },
  { name: 'embedded PGlite', embedded: true },
];

describe.each(BACKENDS)('An application table made with tenantTable() ($name)', ({ embedded }) => {
  let db: TestDatabase | undefined;
  let app: INestApplication;
  let dataSource: DataSource;
  let a: string;
  let b: string;

  beforeAll(async () => {
    if (!embedded) db = await createTestDatabase();
    app = await bootApp(commentsApp(embedded ? { useDatabase: false } : { useDatabase: true, url: db!.url, runMigrations: true }));
    dataSource = app.get(getDataSourceToken());
    const tenants = app.get<Repository<Tenant>>(getRepositoryToken(Tenant));
    [a, b] = await app.get(TenancyService).runAsSystem(async () => (await tenants.save([{ name: 'a' }, { name: 'b' }])).map((tenant) => tenant.id));
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('writes fill tenant_id from the context, and each tenant reads only its own rows', async () => {
    await request(app.getHttpServer()).post('/comments').set('x-tenant-id', a).send({ body: 'of a' }).expect(201);
    await request(app.getHttpServer()).post('/comments').set('x-tenant-id', b).send({ body: 'of b' }).expect(201);
    const seenByA = await request(app.getHttpServer()).get('/comments').set('x-tenant-id', a).expect(200);
    const seenByB = await request(app.getHttpServer()).get('/comments').set('x-tenant-id', b).expect(200);
    expect(seenByA.body.map((comment: Comment) => [comment.body, comment.tenantId])).toEqual([['of a', a]]);
    expect(seenByB.body.map((comment: Comment) => [comment.body, comment.tenantId])).toEqual([['of b', b]]);
  });

  it("refuses a write naming another tenant, with an error that says so (403), and writes nothing", async () => {
    const response = await request(app.getHttpServer()).post('/comments').set('x-tenant-id', a).send({ body: 'forged', tenantId: b }).expect(403);
    expect(response.body.message).toMatch(/Comment was written with a tenantId other than the current tenant's/);
    const seenByB = await request(app.getHttpServer()).get('/comments').set('x-tenant-id', b).expect(200);
    expect(seenByB.body.map((comment: Comment) => comment.body)).not.toContain('forged');
  });

  it("a foreign key to a library table: a comment on the tenant's own flow is stored; on a missing flow or another tenant's, 409 naming the key, and nothing is written", async () => {
    const flows = app.get<Repository<Flow>>(getRepositoryToken(Flow));
    const [flowOfA, flowOfB] = await Promise.all(
      [a, b].map((tenant) => app.get(TenancyService).runInTenant(tenant, async () => (await flows.save(flows.create({ name: 'discussed' }))).id)),
    );
    await request(app.getHttpServer()).post('/comments').set('x-tenant-id', a).send({ body: 'on my flow', flowId: flowOfA }).expect(201);
    for (const flowId of [flowOfB, '00000000-0000-4000-8000-000000000001']) {
      const refused = await request(app.getHttpServer()).post('/comments').set('x-tenant-id', a).send({ body: 'dangling', flowId }).expect(409);
      expect(refused.body.message).toBe('conflict with the stored data: the request breaks constraint "FK_comments_flow"');
      expect(JSON.stringify(refused.body)).not.toContain(flowId); // no values echoed
    }
    const seenByA = await request(app.getHttpServer()).get('/comments').set('x-tenant-id', a).expect(200);
    expect(seenByA.body.filter((comment: Comment) => comment.flowId !== null).map((comment: Comment) => [comment.body, comment.flowId])).toEqual([['on my flow', flowOfA]]);
  });

  it('a NOT NULL violation of an application table is 400 naming the column, not 500', async () => {
    const refused = await request(app.getHttpServer()).post('/comments').set('x-tenant-id', a).send({}).expect(400);
    expect(refused.body.message).toBe('invalid value: the request breaks NOT NULL on column "body"');
  });

  it('the isolation check passes on the migrated schema', async () => {
    await expect(assertTenantIsolation(dataSource)).resolves.toBeUndefined();
  });

  // Citus puts views of its own in public (citus_tables, citus_schemas), readable by PUBLIC; here
  // pg_stat_statements does the same (the view and its functions): an extension's relations are not the application's schema.
  (embedded ? it.skip : it)("the isolation check passes with an extension's own relations in public readable by PUBLIC", async () => {
    await dataSource.query(`CREATE EXTENSION IF NOT EXISTS pg_stat_statements`);
    try {
      const [{ readable }] = await dataSource.query(`SELECT has_table_privilege('public', 'pg_stat_statements', 'SELECT') AS readable`);
      expect(readable).toBe(true);
      await expect(assertTenantIsolation(dataSource)).resolves.toBeUndefined();
    } finally {
      await dataSource.query(`DROP EXTENSION pg_stat_statements`);
    }
  });

  it('the isolation check names a table made without tenantTable(), and every rule it breaks', async () => {
    await dataSource.query(`CREATE TABLE careless_notes (id uuid PRIMARY KEY, tenant_id uuid NOT NULL, body text)`);
    try {
      const error = await assertTenantIsolation(dataSource).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(TenantIsolationError);
      expect((error as TenantIsolationError).violations).toEqual([
        'careless_notes: row level security is not enabled',
        'careless_notes: row level security is not forced',
        'careless_notes: no policy for fdl_app',
        'careless_notes: fdl_app has no SELECT grant',
        // Its id alone is unique across tenants: a duplicate-key error would tell one tenant another's id.
        'careless_notes: primary key careless_notes_pkey leaves tenant_id out of its key (PRIMARY KEY (id))',
      ]);
      // Granted but never made row-level secure: readable by every tenant, and named for it.
      await dataSource.query(`GRANT SELECT ON careless_notes TO fdl_app`);
      await dataSource.query(`ALTER TABLE careless_notes ENABLE ROW LEVEL SECURITY`);
      await expect(assertTenantIsolation(dataSource)).rejects.toMatchObject({
        violations: [
          'careless_notes: row level security is not forced',
          'careless_notes: no policy for fdl_app',
          'careless_notes: primary key careless_notes_pkey leaves tenant_id out of its key (PRIMARY KEY (id))',
        ],
      });
    } finally {
      await dataSource.query(`DROP TABLE careless_notes`);
    }
  });

  it('tenantTable() refuses a table whose primary key leaves out tenant_id, saying what to declare', async () => {
    const runner = dataSource.createQueryRunner();
    await runner.startTransaction();
    try {
      await runner.query(`CREATE TABLE keyless_notes (id uuid PRIMARY KEY, tenant_id uuid NOT NULL)`);
      await expect(tenantTable(runner, 'keyless_notes')).rejects.toThrow(
        'tenantTable: keyless_notes needs a primary key that includes tenant_id, e.g. CONSTRAINT "PK_keyless_notes" PRIMARY KEY (tenant_id, id)',
      );
    } finally {
      await runner.rollbackTransaction();
      await runner.release();
    }
  });

  it('runPendingMigrations works on the module\'s DataSource (nothing left to apply)', async () => {
    const started = Date.now();
    await expect(runPendingMigrations(dataSource)).resolves.toEqual([]);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('a request that holds its connection and asks the pool for another is answered at once on a pool of one', async () => {
    const started = Date.now();
    const response = await request(app.getHttpServer()).get('/comments/flows-then-pool').set('x-tenant-id', a);
    if (embedded) {
      expect(response.status).toBe(500);
      expect(Date.now() - started).toBeLessThan(2000);
    } else {
      // A pool of ten has a second connection to give.
      expect(response.status).toBe(200);
    }
  });
});

describe(DatabaseModule.forFeature.name, () => {
  it('fails the start, naming the entity, when it is not in the root options', async () => {
    const db = await createTestDatabase();
    try {
      await expect(
        bootApp({
          module: class ForgetfulApp {},
          imports: [DatabaseModule.forRoot({ useDatabase: true, url: db.url, readEnvironment: false }), CommentsModule],
        }),
      ).rejects.toThrow(/Comment is not an entity of the module's DataSource: add it to DatabaseModule.forRoot\(\{ entities: \[Comment\] \}\)/);
    } finally {
      await db.drop();
    }
  });
});


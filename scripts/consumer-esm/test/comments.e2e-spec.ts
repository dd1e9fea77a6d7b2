// Runs on the backend the environment selects: the consumer test runs it once on the embedded
// database (FDL_USE_DATABASE=false) and once on a server (FDL_USE_DATABASE=true, DATABASE_URL).
import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { getDataSourceToken, getRepositoryToken } from '@nestjs/typeorm';
import { assertTenantIsolation, Flow, TenancyService } from 'fdl-runtime-db';
import request from 'supertest';
import { App } from 'supertest/types.js';
import { DataSource, Repository } from 'typeorm';
import { AppModule } from './../src/app.module.js';

describe('Comments (e2e)', () => {
  let app: INestApplication<App>;
  let dataSource: DataSource;
  const newTenant = async (name: string): Promise<string> =>
    (await request(app.getHttpServer()).post('/tenants').send({ name }).expect(201)).body.id;

  beforeAll(async () => {
    const moduleFixture = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = moduleFixture.createNestApplication();
    await app.init();
    dataSource = app.get(getDataSourceToken());
  });

  afterAll(async () => {
    await app.close();
  });

  it('reads the pool size ConfigService gives as a string', () => {
    const expected = process.env.FDL_USE_DATABASE === 'true' ? Number(process.env.APP_DB_POOL_SIZE) : 1;
    expect(dataSource.options).toMatchObject({ poolSize: expected });
  });

  it('each tenant writes and reads only its own comments', async () => {
    const a = await newTenant('a');
    const b = await newTenant('b');
    await request(app.getHttpServer()).post('/comments').set('x-tenant-id', a).send({ body: 'from a' }).expect(201);
    await request(app.getHttpServer()).post('/comments').set('x-tenant-id', b).send({ body: 'from b' }).expect(201);
    const seenByA = await request(app.getHttpServer()).get('/comments').set('x-tenant-id', a).expect(200);
    const seenByB = await request(app.getHttpServer()).get('/comments').set('x-tenant-id', b).expect(200);
    expect(seenByA.body.map((c: { body: string; tenantId: string }) => [c.body, c.tenantId])).toEqual([['from a', a]]);
    expect(seenByB.body.map((c: { body: string; tenantId: string }) => [c.body, c.tenantId])).toEqual([['from b', b]]);
    await request(app.getHttpServer()).get('/comments').expect(400);
  });

  it("a comment on a flow: the tenant's own is stored, a missing one is 409 naming the foreign key", async () => {
    const a = await newTenant('with a flow');
    const flows = app.get<Repository<Flow>>(getRepositoryToken(Flow));
    const flowId = await app.get(TenancyService).runInTenant(a, async () => (await flows.save(flows.create({ name: 'discussed' }))).id);
    await request(app.getHttpServer()).post('/comments').set('x-tenant-id', a).send({ body: 'on it', flowId }).expect(201);
    const missing = await request(app.getHttpServer())
      .post('/comments')
      .set('x-tenant-id', a)
      .send({ body: 'on nothing', flowId: '00000000-0000-4000-8000-000000000001' })
      .expect(409);
    expect(missing.body.message).toContain('"FK_comments_flow"');
  });

  it('the schema isolates tenants', async () => {
    await expect(assertTenantIsolation(dataSource)).resolves.toBeUndefined();
  });

  it('the isolation check names a table made without tenantTable()', async () => {
    await dataSource.query('CREATE TABLE notes (id uuid PRIMARY KEY, tenant_id uuid NOT NULL)');
    try {
      await expect(assertTenantIsolation(dataSource)).rejects.toThrow(/notes: row level security is not forced/);
    } finally {
      await dataSource.query('DROP TABLE notes');
    }
  });
});

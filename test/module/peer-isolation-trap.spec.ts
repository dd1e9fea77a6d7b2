import type { INestApplication, INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { getRepositoryToken } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { DatabaseModule, Flow, TenancyService, TenantContextMissingError } from '../../src';
import { PeerFlowsService, peerModule } from '../../bench/peer-app';
import { bootApp } from '../utils/apps';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';
import { asSuperuser } from '../utils/tenant-sql';
import { createTenants } from '../utils/tenants';

const TENANTS = 20;
const FLOWS_PER_TENANT = 20;

/**
 * The isolation trap of the recipe the bench compares with (bench/peer-app.ts: nestjs-cls +
 * @nestjs-cls/transactional): a method that forgets `@Transactional()` runs on the login role,
 * silently; the module's repository refuses the same mistake. Both log in as the test server's
 * superuser, the simple layout many applications start with.
 */
describe('Forgetting the transaction: the peer recipe against the module', () => {
  let db: TestDatabase;
  let peer: INestApplicationContext;
  let app: INestApplication;
  let tenants: string[];

  beforeAll(async () => {
    db = await createTestDatabase();
    tenants = await createTenants(
      db.url,
      Array.from({ length: TENANTS }, (_, i) => `tenant-${i}`),
    );
    await asSuperuser(db.url, (client) =>
      client.query(`INSERT INTO flows (tenant_id, name) SELECT t, 'flow-' || n FROM unnest($1::uuid[]) t, generate_series(1, $2) n`, [tenants, FLOWS_PER_TENANT]),
    );
    peer = await NestFactory.createApplicationContext(peerModule(db.url, 2), { logger: false });
    app = await bootApp(DatabaseModule.forRoot({ useDatabase: true, url: db.url, readEnvironment: false, poolSize: 2 }));
  });
  afterAll(async () => {
    await peer?.close();
    await app?.close();
    await db?.drop();
  });

  it("peer: the method without @Transactional() reads every other tenant's rows, without an error", async () => {
    const rows = await peer.get(PeerFlowsService).listForgettingTransactional(tenants[0]);
    const foreign = rows.filter((flow) => flow.tenantId !== tenants[0]);
    expect({ rows: rows.length, foreign: foreign.length }).toEqual({ rows: TENANTS * FLOWS_PER_TENANT, foreign: (TENANTS - 1) * FLOWS_PER_TENANT });
  });

  it('peer: the same prelude inside @Transactional() isolates (the recipe works when nothing is forgotten)', async () => {
    const service = peer.get(PeerFlowsService);
    const [foreign] = await peer.get(PeerFlowsService).listForgettingTransactional(tenants[1]).then((rows) => rows.filter((f) => f.tenantId === tenants[1]));
    await expect(service.get(tenants[0], foreign.id)).resolves.toBeNull();
    await expect(service.get(tenants[1], foreign.id)).resolves.toMatchObject({ id: foreign.id });
  });

  it('module: the repository used outside a tenant context throws TenantContextMissingError and reads nothing', async () => {
    const flows = app.get<Repository<Flow>>(getRepositoryToken(Flow));
    await expect(flows.find()).rejects.toBeInstanceOf(TenantContextMissingError);
    const own = await app.get(TenancyService).runInTenant(tenants[0], () => flows.find());
    expect(own).toHaveLength(FLOWS_PER_TENANT);
    expect(own.every((flow) => flow.tenantId === tenants[0])).toBe(true);
  });
});

import { getRepositoryToken } from '@nestjs/typeorm';
import type { INestApplication } from '@nestjs/common';
import type { Repository } from 'typeorm';
import { DatabaseModule, Flow, isUniqueViolation, TenancyService } from '../../src';
import { bootApp } from '../utils/apps';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';
import { asSuperuser } from '../utils/tenant-sql';
import { createTenants } from '../utils/tenants';

/**
 * On real errors from one node. The relayed form a Citus coordinator gives (no constraint field, the
 * shard's copy named in the message) is met by the example's POST /flows on the cluster
 * (test/citus/citus-example-api.spec.ts: a duplicate name answers 409).
 */
describe(isUniqueViolation.name, () => {
  let db: TestDatabase;
  let app: INestApplication;
  let tenant: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    [tenant] = await createTenants(db.url, ['a']);
    app = await bootApp(DatabaseModule.forRoot({ useDatabase: true, url: db.url, readEnvironment: false, poolSize: 2 }));
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  const duplicateFlow = async () => {
    const flows = app.get<Repository<Flow>>(getRepositoryToken(Flow));
    const save = () => app.get(TenancyService).runInTenant(tenant, () => flows.save(flows.create({ tenantId: tenant, name: 'twice' })));
    await save().catch(() => undefined);
    return save().then(
      () => undefined,
      (error: unknown) => error,
    );
  };

  it('names the violated constraint of a TypeORM QueryFailedError, and no other', async () => {
    const error = await duplicateFlow();
    expect(error).toBeDefined();
    expect(isUniqueViolation(error, 'UQ_flows_tenant_name')).toBe(true);
    expect(isUniqueViolation(error, 'UQ_flows')).toBe(false);
    expect(isUniqueViolation(error, 'PK_flows')).toBe(false);
  });

  it('reads a node-postgres error too, and answers false for errors that are not unique violations', async () => {
    const error = await asSuperuser(db.url, (c) => c.query(`INSERT INTO tenants (id, name) VALUES ($1, 'again')`, [tenant]).catch((e: unknown) => e));
    expect(isUniqueViolation(error, 'PK_tenants')).toBe(true);
    const notUnique = await asSuperuser(db.url, (c) => c.query(`SELECT 1/0`).catch((e: unknown) => e));
    expect(isUniqueViolation(notUnique, 'PK_tenants')).toBe(false);
    expect(isUniqueViolation(undefined, 'PK_tenants')).toBe(false);
    expect(isUniqueViolation(new Error('unique constraint "PK_tenants"'), 'PK_tenants')).toBe(false);
  });
});

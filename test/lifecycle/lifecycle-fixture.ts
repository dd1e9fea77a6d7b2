import type { INestApplication } from '@nestjs/common';
import { DatabaseModule, type DatabaseModuleOptions, TenancyService } from '../../src';
import { bootApp } from '../utils/apps';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';
import { asTenant } from '../utils/tenant-sql';
import { createTenants } from '../utils/tenants';

/** A migrated database with two tenants (each with one flow) and the module booted on it. */
export interface LifecycleFixture {
  db: TestDatabase;
  app: INestApplication;
  tenancy: TenancyService;
  tenants: [string, string];
  flows: [string, string];
  close(): Promise<void>;
}

export async function lifecycleFixture(options: DatabaseModuleOptions = {}): Promise<LifecycleFixture> {
  const db = await createTestDatabase();
  const tenants = (await createTenants(db.url, ['a', 'b'])) as [string, string];
  const flows = (await Promise.all(
    tenants.map((tenantId) =>
      asTenant(db.url, tenantId, async (c) => (await c.query(`INSERT INTO flows (tenant_id, name) VALUES ($1, 'f') RETURNING id`, [tenantId])).rows[0].id, true),
    ),
  )) as [string, string];
  const app = await bootApp(DatabaseModule.forRoot({ useDatabase: true, url: db.url, readEnvironment: false, poolSize: 10, ...options }));
  return {
    db,
    app,
    tenancy: app.get(TenancyService),
    tenants,
    flows,
    close: async () => {
      await app.close();
      await db.drop();
    },
  };
}

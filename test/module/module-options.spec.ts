import { Controller, Get, Injectable, Module } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import request from 'supertest';
import { Repository } from 'typeorm';
import { DatabaseHealthIndicator, DatabaseModule, type DatabaseModuleOptions, Flow } from '../../src';
import { RESOLVED_DATABASE_CONFIG } from '../../src/config/database.internal-constants';
import { withDataSource } from '../utils/migrate';
import { bootApp } from '../utils/apps';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';
import { asTenant } from '../utils/tenant-sql';
import { createTenants } from '../utils/tenants';

/** A stand-in for @nestjs/config's ConfigService: a provider the async factory must be able to inject. */
@Injectable()
class SettingsService {
  static url = '';
  get(key: 'url'): string {
    return key === 'url' ? SettingsService.url : '';
  }
}

@Module({ providers: [SettingsService], exports: [SettingsService] })
class SettingsModule {}

@Controller('flows')
class FlowNamesController {
  constructor(@InjectRepository(Flow) private readonly flows: Repository<Flow>) {}
  @Get()
  async names(): Promise<string[]> {
    return (await this.flows.find()).map((flow) => flow.name);
  }
}

const appWith = (database: ReturnType<typeof DatabaseModule.forRoot>) => ({ module: class HostModule {}, imports: [database], controllers: [FlowNamesController] });

describe(DatabaseModule.name, () => {
  let db: TestDatabase;
  let tenantA: string;
  const apps: INestApplication[] = [];
  const boot = async (database: ReturnType<typeof DatabaseModule.forRoot>) => {
    const app = await bootApp(appWith(database));
    apps.push(app);
    return app;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    SettingsService.url = db.url;
    [tenantA] = await createTenants(db.url, ['a']);
    await asTenant(db.url, tenantA, (c) => c.query(`INSERT INTO flows (tenant_id, name) VALUES ($1, 'of-a')`, [tenantA]), true);
  });
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await db?.drop();
  });

  it('forRootAsync takes its options from an injected provider (useFactory + inject + imports)', async () => {
    const app = await boot(
      DatabaseModule.forRootAsync({
        imports: [SettingsModule],
        inject: [SettingsService],
        useFactory: (settings: SettingsService): DatabaseModuleOptions => ({ useDatabase: true, url: settings.get('url'), readEnvironment: false }),
        globalInterceptor: true,
      }),
    );
    const res = await request(app.getHttpServer()).get('/flows').set('X-Tenant-ID', tenantA).expect(200);
    expect(res.body).toEqual(['of-a']);
  });

  it('forRootAsync validates its options like the environment', async () => {
    await expect(
      boot(DatabaseModule.forRootAsync({ useFactory: () => ({ useDatabase: true, url: db.url, poolSize: 0, readEnvironment: false }) })),
    ).rejects.toThrow(/poolSize must be a whole number from 1 to 1000, got 0/);
  });

  it('forRootAsync reads the strings a ConfigService returns as the environment would be read', async () => {
    const strings: Record<string, string> = { FDL_USE_DATABASE: 'true', FDL_DB_POOL_SIZE: '3', FDL_DB_TIMEOUT: '7', RUN_MIGRATIONS: 'false' };
    const app = await boot(
      DatabaseModule.forRootAsync({
        imports: [SettingsModule],
        inject: [SettingsService],
        useFactory: (settings: SettingsService): DatabaseModuleOptions => ({
          useDatabase: strings.FDL_USE_DATABASE,
          url: settings.get('url'),
          poolSize: strings.FDL_DB_POOL_SIZE,
          queryTimeout: strings.FDL_DB_TIMEOUT,
          runMigrations: strings.RUN_MIGRATIONS,
          readEnvironment: false,
        }),
        globalInterceptor: true,
      }),
    );
    expect(app.get(RESOLVED_DATABASE_CONFIG)).toMatchObject({ backend: 'postgres', poolSize: 3, queryTimeout: 7 });
    await request(app.getHttpServer()).get('/flows').set('X-Tenant-ID', tenantA).expect(200, ['of-a']);
    await expect(
      boot(DatabaseModule.forRootAsync({ useFactory: () => ({ useDatabase: 'true', url: db.url, poolSize: '5x', readEnvironment: false }) })),
    ).rejects.toThrow(/poolSize must be a whole number from 1 to 1000, got "5x"/);
  });

  it('resolveTenant takes the tenant from elsewhere (e.g. the authenticated principal), and a missing one is 401 when asked', async () => {
    const app = await boot(
      DatabaseModule.forRoot({
        useDatabase: true,
        url: db.url,
        readEnvironment: false,
        globalInterceptor: true,
        missingTenantStatus: 401,
        resolveTenant: (context) => context.switchToHttp().getRequest().headers['x-principal-tenant'],
      }),
    );
    await request(app.getHttpServer()).get('/flows').set('X-Principal-Tenant', tenantA).expect(200, ['of-a']);
    // The default header is not consulted any more.
    const res = await request(app.getHttpServer()).get('/flows').set('X-Tenant-ID', tenantA).expect(401);
    expect(res.body.message).toBe('tenant id is required');
  });

  it('without globalInterceptor, repositories refuse to run (fail closed) instead of running unscoped', async () => {
    const app = await boot(DatabaseModule.forRoot({ useDatabase: true, url: db.url, readEnvironment: false }));
    const res = await request(app.getHttpServer()).get('/flows').set('X-Tenant-ID', tenantA);
    expect(res.status).toBe(500);
  });
});

describe(DatabaseHealthIndicator.name, () => {
  it('reports pending migrations as unhealthy, with the pool figures', async () => {
    const db = await createTestDatabase();
    await withDataSource(db.url, (dataSource) => dataSource.undoLastMigration({ transaction: 'all' }));
    const app = await bootApp(appWith(DatabaseModule.forRoot({ useDatabase: true, url: db.url, readEnvironment: false, poolSize: 3 })));
    try {
      const report = await app.get(DatabaseHealthIndicator).report();
      expect(report).toMatchObject({ healthy: false, reachable: true, pendingMigrations: true, pool: { size: 3, waiting: 0 } });
    } finally {
      await app.close();
      await db.drop();
    }
  });
});

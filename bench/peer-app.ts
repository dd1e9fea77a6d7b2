import { Controller, Get, Headers, type INestApplicationContext, Injectable, Module, NotFoundException, Param, ParseUUIDPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import { ClsPluginTransactional, Transactional, TransactionHost } from '@nestjs-cls/transactional';
import { TransactionalAdapterTypeOrm } from '@nestjs-cls/transactional-adapter-typeorm';
import { ClsModule } from 'nestjs-cls';
import { Flow, migrationDataSourceOptions } from '../src';
import { configureApp } from '../example/configure-app';

/**
 * What a Nest user reaches for today instead of this module: nestjs-cls + @nestjs-cls/transactional
 * with its TypeORM adapter, and a `@Transactional()` method that sets the role and the tenant
 * itself before using `txHost.tx`. Four round trips per transaction: BEGIN, the settings, the
 * query, COMMIT. The bench's `peer` group measures the module against it in the same run.
 */
@Injectable()
export class PeerFlowsService {
  constructor(private readonly txHost: TransactionHost<TransactionalAdapterTypeOrm>) {}

  @Transactional()
  async get(tenantId: string, id: string): Promise<Flow | null> {
    await this.enterTenant(tenantId);
    return this.txHost.tx.getRepository(Flow).findOneBy({ id });
  }

  @Transactional()
  async create(tenantId: string, name: string): Promise<Flow> {
    await this.enterTenant(tenantId);
    const flows = this.txHost.tx.getRepository(Flow);
    return flows.save(flows.create({ tenantId, name, description: null }));
  }

  /**
   * The same body as {@link get}'s, without `@Transactional()`: the recipe's trap. `txHost.tx` falls
   * back to the DataSource's manager, the settings end with their own one-statement transaction,
   * and the query runs as the login role, which (as owner or superuser) reads every tenant's rows.
   */
  async listForgettingTransactional(tenantId: string): Promise<Flow[]> {
    await this.enterTenant(tenantId);
    return this.txHost.tx.getRepository(Flow).find();
  }

  private async enterTenant(tenantId: string): Promise<void> {
    await this.txHost.tx.query(`SELECT set_config('role', 'fdl_app', true), set_config('app.current_tenant_id', $1, true)`, [tenantId]);
  }
}

const uuid = new ParseUUIDPipe();

@Controller('peer/flows')
class PeerFlowsController {
  constructor(private readonly flows: PeerFlowsService) {}

  @Get(':id')
  async get(@Headers('x-tenant-id') header: string, @Param('id', new ParseUUIDPipe()) id: string): Promise<Flow> {
    // @Headers takes no pipe: the tenant id is checked as a UUID the same way, by hand.
    const tenantId = (await uuid.transform(header, { type: 'custom' }))!;
    const flow = await this.flows.get(tenantId, id);
    if (!flow) throw new NotFoundException('flow not found');
    return flow;
  }
}

/** The peer recipe as an application module: plain TypeORM, nestjs-cls and its transactional plugin. */
export function peerModule(url: string, poolSize: number) {
  @Module({
    imports: [
      TypeOrmModule.forRoot({ ...migrationDataSourceOptions(url), poolSize }),
      ClsModule.forRoot({
        global: true,
        plugins: [
          new ClsPluginTransactional({
            imports: [TypeOrmModule],
            adapter: new TransactionalAdapterTypeOrm({ dataSourceToken: getDataSourceToken() }),
          }),
        ],
      }),
    ],
    controllers: [PeerFlowsController],
    providers: [PeerFlowsService],
  })
  class PeerModule {}
  return PeerModule;
}

const quiet = { logger: false as const };

export function startPeerContext(url: string, poolSize: number): Promise<INestApplicationContext> {
  return NestFactory.createApplicationContext(peerModule(url, poolSize), quiet);
}

export async function startPeerHttpApp(url: string, poolSize: number): Promise<{ baseUrl: string; close(): Promise<void> }> {
  const app = await NestFactory.create(peerModule(url, poolSize), quiet);
  // The same global pipes as the module's example app, so both HTTP paths validate alike.
  configureApp(app);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  return { baseUrl: `http://127.0.0.1:${address.port}`, close: () => app.close() };
}

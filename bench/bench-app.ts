import { Controller, Get, type INestApplicationContext, Module, NotFoundException, Param } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { DatabaseModule, type DatabaseModuleOptions, Flow, WithoutTenant } from '../src';
import { AppModule } from '../example/app.module';
import { configureApp } from '../example/configure-app';

/** The example's GET /flows/:id handler, minus the tenant scoping: the HTTP baseline. */
@Controller('bench')
@WithoutTenant()
class UnscopedFlowsController {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  @Get('unscoped-flows/:id')
  async get(@Param('id') id: string): Promise<Flow> {
    const flow = await this.dataSource.getRepository(Flow).findOneBy({ id });
    if (!flow) throw new NotFoundException('flow not found');
    return flow;
  }
}

@Module({ controllers: [UnscopedFlowsController] })
class BenchExtrasModule {}

const quiet = { logger: false as const };

/** The example HTTP app plus the unscoped baseline route, listening on a free port. */
export async function startBenchHttpApp(url: string, poolSize: number): Promise<{ baseUrl: string; close(): Promise<void> }> {
  const app = await NestFactory.create(
    { module: class BenchHttpModule {}, imports: [AppModule.register(options(url, poolSize)), BenchExtrasModule] },
    quiet,
  );
  configureApp(app);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  return { baseUrl: `http://127.0.0.1:${address.port}`, close: () => app.close() };
}

/** The module alone, for service-level measurements. */
export function startBenchContext(url: string, poolSize: number, extra: DatabaseModuleOptions = {}): Promise<INestApplicationContext> {
  return NestFactory.createApplicationContext(DatabaseModule.forRoot({ ...options(url, poolSize), ...extra }), quiet);
}

function options(url: string, poolSize: number): DatabaseModuleOptions {
  return { useDatabase: true, url, poolSize, readEnvironment: false, acquireTimeout: 30 };
}

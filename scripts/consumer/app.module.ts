// A minimal application of a Nest developer who installed fdl-runtime-db from its tarball.
import { Body, Controller, Get, Injectable, Module, Post } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { DatabaseModule, Flow, Tenant, TenancyService, WithoutTenant } from 'fdl-runtime-db';
import { embeddedDatabase } from './embedded-database';

@Injectable()
export class CatalogService {
  constructor(
    @InjectRepository(Flow) private readonly flows: Repository<Flow>,
    @InjectRepository(Tenant) private readonly tenants: Repository<Tenant>,
    private readonly tenancy: TenancyService,
  ) {}

  createTenant(name: string): Promise<Tenant> {
    return this.tenancy.runAsSystem(() => this.tenants.save(this.tenants.create({ name })));
  }

  createFlow(name: string): Promise<Flow> {
    return this.flows.save(this.flows.create({ tenantId: this.tenancy.currentTenantId(), name }));
  }

  listFlows(): Promise<Flow[]> {
    return this.flows.find();
  }
}

@Controller()
export class CatalogController {
  constructor(private readonly catalog: CatalogService) {}

  @Post('tenants')
  @WithoutTenant()
  createTenant(@Body() body: { name: string }): Promise<Tenant> {
    return this.catalog.createTenant(body.name);
  }

  @Post('flows')
  createFlow(@Body() body: { name: string }): Promise<Flow> {
    return this.catalog.createFlow(body.name);
  }

  @Get('flows')
  listFlows(): Promise<Flow[]> {
    return this.catalog.listFlows();
  }
}

@Module({
  imports: [DatabaseModule.forRoot({ globalInterceptor: true, embeddedDatabase })],
  controllers: [CatalogController],
  providers: [CatalogService],
})
export class AppModule {}

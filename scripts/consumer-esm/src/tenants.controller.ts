import { Body, Controller, Post } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Tenant, TenancyService, WithoutTenant } from 'fdl-runtime-db';
import { Repository } from 'typeorm';

@Controller('tenants')
export class TenantsController {
  constructor(
    @InjectRepository(Tenant) private readonly tenants: Repository<Tenant>,
    private readonly tenancy: TenancyService,
  ) {}

  @Post()
  @WithoutTenant()
  create(@Body() body: { name: string }): Promise<Tenant> {
    return this.tenancy.runAsSystem(() => this.tenants.save(this.tenants.create({ name: body.name })));
  }
}

import { Body, Controller, Post } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsString, Length } from 'class-validator';
import { Repository } from 'typeorm';
import { Tenant, TenancyService, WithoutTenant } from '../../src';
import { AuditService } from '../audit/audit.service';

class CreateTenantDto {
  @IsString()
  @Length(1, 200)
  name!: string;
}

/** Creating a tenant is no tenant's work: it takes the explicit system path. */
@Controller('tenants')
@WithoutTenant()
export class TenantsController {
  constructor(
    @InjectRepository(Tenant) private readonly tenants: Repository<Tenant>,
    private readonly tenancy: TenancyService,
    private readonly audit: AuditService,
  ) {}

  @Post()
  create(@Body() body: CreateTenantDto): Promise<{ id: string; name: string; status: string }> {
    return this.tenancy.runAsSystem(async () => {
      const tenant = await this.tenants.save(this.tenants.create({ name: body.name.trim() }));
      await this.audit.record('tenant.created', { type: 'tenant', id: tenant.id }, { name: tenant.name });
      return { id: tenant.id, name: tenant.name, status: tenant.status };
    });
  }
}

import { Module } from '@nestjs/common';
import { DatabaseModule } from '../src';
import { AuditLogsController } from './audit/audit-logs.controller';
import { AuditService } from './audit/audit.service';
import { FlowsController } from './flows/flows.controller';
import { FlowsService } from './flows/flows.service';
import { TenantsController } from './tenants/tenants.controller';

@Module({
  imports: [DatabaseModule.forRoot({ globalInterceptor: true, runMigrations: true })],
  controllers: [TenantsController, FlowsController, AuditLogsController],
  providers: [FlowsService, AuditService],
})
export class AppModule {}

import { type DynamicModule, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { DatabaseModule, type DatabaseModuleOptions } from '../src';
import { AuditLogsController } from './audit/audit-logs.controller';
import { AuditService } from './audit/audit.service';
import { ExecutionsController } from './executions/executions.controller';
import { FlowsController } from './flows/flows.controller';
import { FlowsService } from './flows/flows.service';
import { HealthController } from './health/health.controller';
import { TenantsController } from './tenants/tenants.controller';

/** The example API. `register()` with no options reads the environment, as `npm start` does. */
@Module({})
export class AppModule {
  static register(database: DatabaseModuleOptions = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [DatabaseModule.forRoot({ globalInterceptor: true, runMigrations: true, ...database }), TerminusModule],
      controllers: [TenantsController, FlowsController, ExecutionsController, AuditLogsController, HealthController],
      providers: [FlowsService, AuditService],
    };
  }
}

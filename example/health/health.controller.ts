import { Controller, Get } from '@nestjs/common';
import { HealthCheck, type HealthCheckResult, HealthCheckService, type HealthIndicatorResult } from '@nestjs/terminus';
import { DatabaseHealthIndicator, WithoutTenant } from '../../src';

/** GET /health: reachability, pending migrations and pool saturation (503 when down). */
@Controller('health')
@WithoutTenant()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: DatabaseHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check(): Promise<HealthCheckResult> {
    return this.health.check([() => this.database.isHealthy('database') as Promise<HealthIndicatorResult>]);
  }
}

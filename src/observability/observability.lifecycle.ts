import { Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { refuseSessionLevelTracing } from './instrumentation-check';
import { observePool } from './pool-metrics';
import { TenantScheduler } from '../fairness/tenant-scheduler';

/** At start, checks the OpenTelemetry instrumentation of `pg` and starts reporting the pool. */
@Injectable()
export class ObservabilityLifecycle implements OnModuleInit, OnApplicationShutdown {
  private stopObserving?: () => void;

  constructor(
    private readonly dataSource: DataSource,
    private readonly scheduler: TenantScheduler,
  ) {}

  async onModuleInit(): Promise<void> {
    await refuseSessionLevelTracing(this.dataSource);
    this.stopObserving = observePool(this.dataSource, () => this.scheduler.waitingCount);
  }

  onApplicationShutdown(): void {
    this.stopObserving?.();
  }
}

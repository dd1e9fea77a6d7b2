import { Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { refuseSessionLevelTracing } from './instrumentation-check';
import { observePool } from './pool-metrics';

/** At start, checks the OpenTelemetry instrumentation of `pg` and starts reporting the pool. */
@Injectable()
export class ObservabilityLifecycle implements OnModuleInit, OnApplicationShutdown {
  private stopObserving?: () => void;

  constructor(private readonly dataSource: DataSource) {}

  async onModuleInit(): Promise<void> {
    await refuseSessionLevelTracing(this.dataSource);
    this.stopObserving = observePool(this.dataSource);
  }

  onApplicationShutdown(): void {
    this.stopObserving?.();
  }
}

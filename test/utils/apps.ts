import type { DynamicModule, INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { DatabaseModuleOptions } from '../../src';
import { AppModule } from '../../example/app.module';
import { configureApp } from '../../example/configure-app';

/** Boots `module` as an HTTP app (not listening) with Nest's logger silenced. */
export async function bootApp(module: DynamicModule): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({ imports: [module] }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  configureApp(app);
  await app.init();
  return app;
}

/** The example application on the database at `url`, configured in code only (no environment). */
export function bootExampleApp(url: string, options: DatabaseModuleOptions = {}): Promise<INestApplication> {
  return bootApp(AppModule.register({ useDatabase: true, url, readEnvironment: false, ...options }));
}

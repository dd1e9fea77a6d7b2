import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { DatabaseModuleExtras, DatabaseModuleOptions } from './database-module-options';

export const {
  ConfigurableModuleClass: ConfigurableDatabaseModule,
  MODULE_OPTIONS_TOKEN,
  OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<DatabaseModuleOptions>()
  .setClassMethodName('forRoot')
  .setExtras<DatabaseModuleExtras>({ isGlobal: true, globalInterceptor: false }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal,
  }))
  .build();

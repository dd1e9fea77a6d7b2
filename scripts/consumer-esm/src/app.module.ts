import { Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { DatabaseModule, type DatabaseModuleOptions } from 'fdl-runtime-db';
import { AppController } from './app.controller.js';
import { AppService } from './app.service.js';
import { CommentsModule } from './comments/comments.module.js';
import { embeddedDatabase } from './embedded-database.js';
import { entities, migrations } from './schema.js';
import { TenantsController } from './tenants.controller.js';

@Module({
  imports: [
    ConfigModule.forRoot(),
    DatabaseModule.forRootAsync({
      imports: [ConfigModule],
      inject: [ConfigService],
      // ConfigService returns strings ("5", "false"): the module reads them as it reads the environment.
      useFactory: (config: ConfigService): DatabaseModuleOptions => ({
        useDatabase: config.get('FDL_USE_DATABASE'),
        url: config.get('DATABASE_URL'),
        poolSize: config.get('APP_DB_POOL_SIZE'),
        embeddedDatabase,
        entities,
        migrations,
      }),
      globalInterceptor: true,
    }),
    CommentsModule,
  ],
  controllers: [AppController, TenantsController],
  providers: [AppService],
})
export class AppModule {}

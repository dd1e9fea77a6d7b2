// First: starts the embedded database while the imports below load.
import { embeddedDatabase } from './embedded-database';
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { configureApp } from './configure-app';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule.register({ embeddedDatabase }));
  configureApp(app);
  app.enableShutdownHooks();
  const port = Number(process.env.PORT ?? 3000);
  await app.listen(port, '127.0.0.1');
  new Logger('Example').log(`Listening on http://127.0.0.1:${port}`);
}

bootstrap().catch((error: Error) => {
  // A configuration error is the operator's to fix: one line, not a stack trace.
  console.error(error.name === 'DatabaseConfigError' ? `error: ${error.message}` : error);
  process.exit(1);
});

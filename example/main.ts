// First: starts the embedded database while the imports below load.
import { embeddedDatabase } from './embedded-database';
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { configureApp } from './configure-app';

async function bootstrap(): Promise<void> {
  // Start-up logs are held back until the application exists: a configuration error then reads as
  // one line below instead of Nest's stack trace (Nest would also exit before our handler ran).
  const app = await NestFactory.create(AppModule.register({ embeddedDatabase }), {
    abortOnError: false,
    bufferLogs: true,
    autoFlushLogs: false,
  });
  app.flushLogs();
  configureApp(app);
  app.enableShutdownHooks();
  const port = Number(process.env.PORT ?? 3000);
  await app.listen(port, '127.0.0.1');
  new Logger('Example').log(`Listening on http://127.0.0.1:${port}`);
}

bootstrap().catch((error: Error) => {
  // A configuration error is the operator's to fix: one line. Anything else: the whole story.
  if (error.name === 'DatabaseConfigError') {
    console.error(`error: ${error.message}`);
  } else {
    Logger.flush();
    console.error(error);
  }
  process.exit(1);
});

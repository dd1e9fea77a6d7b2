import 'reflect-metadata';
import { Logger, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';

/** Shared by `npm start` and the e2e tests, so both serve exactly the same application. */
export function configureApp(app: { useGlobalPipes(...pipes: ValidationPipe[]): unknown }): void {
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }));
}

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule.register());
  configureApp(app);
  app.enableShutdownHooks();
  const port = Number(process.env.PORT ?? 3000);
  await app.listen(port, '127.0.0.1');
  new Logger('Example').log(`Listening on http://127.0.0.1:${port}`);
}

if (require.main === module) {
  bootstrap().catch((error: Error) => {
    // A configuration error is the operator's to fix: one line, not a stack trace.
    console.error(error.name === 'DatabaseConfigError' ? `error: ${error.message}` : error);
    process.exit(1);
  });
}

import { ValidationPipe } from '@nestjs/common';

/** Shared by `npm start` and the e2e tests, so both serve exactly the same application. */
export function configureApp(app: { useGlobalPipes(...pipes: ValidationPipe[]): unknown }): void {
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }));
}

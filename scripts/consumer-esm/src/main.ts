// In an ES module every static import is loaded before any code runs: the embedded database would
// start only after Nest, TypeORM and the whole application were loaded. One static import that
// starts it, then the rest loaded with import(), lets the two overlap.
import './embedded-database.js';

const { NestFactory } = await import('@nestjs/core');
const { AppModule } = await import('./app.module.js');

async function bootstrap() {
  const app = await NestFactory.create(AppModule);
  app.enableShutdownHooks();
  await app.listen(process.env.PORT ?? 3000);
}
await bootstrap();

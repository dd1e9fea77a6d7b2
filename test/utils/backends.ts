import type { INestApplication } from '@nestjs/common';
import { AppModule } from '../../example/app.module';
import { DatabaseServer } from '../../src/database-server';
import { bootApp, bootExampleApp } from './apps';
import { loginUrl } from './least-privilege';
import { createTestDatabase } from './test-database';

/** The example app running, and the URL of the database it uses (for checks made around it). */
export interface RunningExample {
  app: INestApplication;
  url: string;
  close(): Promise<void>;
}

/** The backends the example e2e suite runs against, from the same spec files. */
export const BACKENDS: { name: string; start(): Promise<RunningExample> }[] = [
  {
    name: 'PostgreSQL',
    async start() {
      const db = await createTestDatabase({ migrated: false });
      const app = await bootExampleApp(db.url); // runs the migrations at start
      return { app, url: db.url, close: async () => (await app.close(), await db.drop()) };
    },
  },
  {
    // The production layout: migrated by the owner (the global setup), served by NOINHERIT logins,
    // the system path on a login of its own.
    name: 'PostgreSQL, least-privilege logins',
    async start() {
      const db = await createTestDatabase();
      const app = await bootExampleApp(loginUrl(db.url, 'runtime'), { systemUrl: loginUrl(db.url, 'system'), runMigrations: false });
      return { app, url: db.url, close: async () => (await app.close(), await db.drop()) };
    },
  },
  {
    name: 'embedded PGlite',
    async start() {
      const app = await bootApp(AppModule.register({ useDatabase: false, readEnvironment: false }));
      return { app, url: await app.get(DatabaseServer).url(), close: () => app.close() };
    },
  },
];

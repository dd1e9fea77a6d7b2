import type { INestApplication } from '@nestjs/common';
import { AppModule } from '../../example/app.module';
import { DatabaseServer } from '../../src/module/database-server';
import { bootApp, bootExampleApp } from './apps';
import { type CitusDatabase, createCitusDatabase, letRolesReachWorkers, withClusterRolesLocked } from './citus';
import { loginUrl } from './least-privilege';
import { createTestDatabase } from './test-database';

/** The example app running, and the URL of the database it uses (for checks made around it). */
export interface RunningExample {
  app: INestApplication;
  url: string;
  close(): Promise<void>;
}

/** A database the example app can be started on, for the same e2e cases. */
export interface ExampleBackend {
  name: string;
  start(): Promise<RunningExample>;
}

/** The backends the example e2e suite runs against, from the same spec files. */
export const BACKENDS: ExampleBackend[] = [
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

/**
 * The coordinator of the run's Citus cluster (test/citus only: the cluster starts when those files
 * run). A database of its own, the app started on it as an operator would.
 */
export const CITUS_BACKEND: ExampleBackend = {
  name: 'a Citus coordinator',
  async start() {
    const db = await createCitusDatabase();
    const app = await startExampleOnCitus(db);
    return { app, url: db.url, close: async () => (await app.close(), await db.drop()) };
  },
};

/**
 * The example app started the way docs/citus.md tells an operator to:
 * `DATABASE_URL=<coordinator> FDL_USE_DATABASE=true`, nothing else, migrating at start. Its
 * migrations change the cluster's roles, so they queue behind other spec files doing the same; the
 * roles are then let onto the workers (test/utils/citus.ts letRolesReachWorkers).
 */
export async function startExampleOnCitus(db: CitusDatabase): Promise<INestApplication> {
  const app = await withClusterRolesLocked(
    () => withEnvironment({ DATABASE_URL: db.url, FDL_USE_DATABASE: 'true' }, () => bootApp(AppModule.register())),
    db.port,
  );
  await letRolesReachWorkers(db);
  return app;
}

/** Runs `work` with `variables` set in process.env, restoring what was there afterwards. */
async function withEnvironment<T>(variables: Record<string, string>, work: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(variables).map((name) => [name, process.env[name]]));
  Object.assign(process.env, variables);
  try {
    return await work();
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

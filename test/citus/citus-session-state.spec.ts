import type { INestApplication } from '@nestjs/common';
import { DatabaseModule } from '../../src';
import { type HostileBackend, instanceOf, openSessionStateToPublic, sessionStateCases } from '../hostile/session-state.suite';
import { bootApp } from '../utils/apps';
import { asSystemOnCitus, type CitusDatabase, createServingCitusDatabase, describeOnCitus, withClusterRolesLocked } from '../utils/citus';

/**
 * SECURITY.md, "Session state", on the coordinator of a real cluster: the same hostile class as
 * test/hostile/session-state.spec.ts, with the Citus prelude (the tenant propagated by SET LOCAL) and
 * PUBLIC's session rights given back, on a pool of one connection.
 */
describeOnCitus('Session state on a Citus coordinator, a pool of one connection', () => {
  let db: CitusDatabase;
  let app: INestApplication;
  let backend: HostileBackend;

  beforeAll(async () => {
    db = await createServingCitusDatabase();
    // Grants on the database propagate to the workers: queued with the other files' cluster changes.
    await withClusterRolesLocked(() => openSessionStateToPublic(db.url, db.name), db.port);
    const [a, b] = await asSystemOnCitus(db.url, async (c) => {
      const ids = (await c.query<{ id: string }>(`INSERT INTO tenants (name) VALUES ('a'), ('b') RETURNING id`)).rows.map((row) => row.id);
      for (const [tenant, name] of [[ids[0], 'a-flow'], [ids[1], 'b-flow']]) await c.query(`INSERT INTO flows (tenant_id, name) VALUES ($1, $2)`, [tenant, name]);
      return ids;
    });
    app = await bootApp(DatabaseModule.forRoot({ useDatabase: true, url: db.url, readEnvironment: false, poolSize: 1 }));
    const instance = instanceOf(app);
    backend = { attacker: instance, victim: instance, adminUrl: db.url, productionLayout: false, a, b, close: async () => undefined };
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  sessionStateCases(() => backend);
});

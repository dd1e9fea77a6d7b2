import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { readFileSync, writeFileSync } from 'node:fs';
import { type INestApplication, Logger } from '@nestjs/common';
import { getRepositoryToken } from '@nestjs/typeorm';
import { Client } from 'pg';
import type { Repository } from 'typeorm';
import { DatabaseModule, Flow, TenancyService } from '../../src';
import { toUnavailableError } from '../../src/cluster/database-unavailable';
import { bootApp } from '../utils/apps';
import { type CitusDatabase, createCitusDatabase, describeOnCitus, migrateCitus, onNode, withClient, withClusterRolesLocked } from '../utils/citus';

const run = promisify(execFile);
const WORKERS = [1, 2] as const;
const workerPort = (worker: 1 | 2) => Number(process.env.FDL_TEST_CITUS_PORT) + worker;

/**
 * The cluster's roles as docs/citus.md tells the operator to set them: fdl_app and
 * fdl_system may log in (Citus connects to the workers as the current role), but the workers ask
 * them for a password, which only the coordinator has (pg_dist_authinfo). The address part of the
 * rule (only the coordinator's host) cannot be told apart on one loopback interface; the password
 * part can.
 */
describeOnCitus('The roles on a Citus cluster', () => {
  let db: CitusDatabase;
  let app: INestApplication;
  const passwords = { fdl_app: randomBytes(12).toString('hex'), fdl_system: randomBytes(12).toString('hex') };
  const hbaFiles: { path: string; original: string; port: number }[] = [];
  let tenant: string;

  const tenantRead = () => app.get(TenancyService).runInTenant(tenant, () => app.get<Repository<Flow>>(getRepositoryToken(Flow)).find());
  const loginToWorker = (role: 'fdl_app' | 'fdl_system', password: string) =>
    withClient(`postgres://${role}:${password}@127.0.0.1:${workerPort(1)}/${db.name}`, async (c: Client) => (await c.query('SELECT current_user AS role')).rows[0].role);
  // psql -w, not node-postgres: asked for a password it has not got, node-postgres fails without
  // closing the socket, and the server waits for it until authentication_timeout.
  const loginToWorkerWithoutPassword = (role: 'fdl_app' | 'fdl_system') =>
    run('psql', ['-w', '-qAtX', '-h', '127.0.0.1', '-p', String(workerPort(1)), '-U', role, '-c', 'SELECT current_user', db.name]).then(
      ({ stdout }) => stdout.trim(),
      (error: { stderr?: string }) => Promise.reject(new Error(error.stderr)),
    );

  beforeAll(async () => {
    db = await createCitusDatabase();
    await migrateCitus(db.url);
    // On the coordinator: Citus propagates the roles' attributes and passwords to the workers.
    await withClusterRolesLocked(() =>
      withClient(db.url, (c) =>
        c.query(`ALTER ROLE fdl_app LOGIN PASSWORD '${passwords.fdl_app}'; ALTER ROLE fdl_system LOGIN PASSWORD '${passwords.fdl_system}'`),
      ),
    );
    // On each worker, for this database: the two roles must authenticate with their password.
    for (const worker of WORKERS) {
      const path = await onNode(workerPort(worker), db.name, async (c) => (await c.query('SHOW hba_file')).rows[0].hba_file as string);
      const original = readFileSync(path, 'utf8');
      hbaFiles.push({ path, original, port: workerPort(worker) });
      writeFileSync(path, `host ${db.name} fdl_app,fdl_system 127.0.0.1/32 scram-sha-256\n${original}`);
      await onNode(workerPort(worker), 'postgres', (c) => c.query('SELECT pg_reload_conf()'));
    }
    // Seeded as the cluster's superuser, whose connections to the workers the rule above leaves alone.
    tenant = await withClient(db.url, async (c) => {
      const id = (await c.query(`INSERT INTO tenants (name) VALUES ('a') RETURNING id`)).rows[0].id;
      await c.query(`INSERT INTO flows (tenant_id, name) VALUES ($1, 'f')`, [id]);
      return id as string;
    });
    startWarnings = await warningsOf(() => bootApp(DatabaseModule.forRoot({ useDatabase: true, url: db.url, readEnvironment: false, poolSize: 2 })));
  });
  let startWarnings: string[];
  /** Boots `start` (into `app`), returning what the module warned of meanwhile. */
  const warningsOf = async (start: () => Promise<INestApplication>): Promise<string[]> => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      app = await start();
      return warn.mock.calls.map(([message]) => String(message));
    } finally {
      warn.mockRestore();
    }
  };
  afterAll(async () => {
    for (const { path, original, port } of hbaFiles) {
      writeFileSync(path, original);
      await onNode(port, 'postgres', (c) => c.query('SELECT pg_reload_conf()')).catch(() => undefined);
    }
    await app?.close();
    // The roles keep LOGIN (other spec files of the run need it), but not the passwords.
    await withClusterRolesLocked(() =>
      withClient(db.url, (c) => c.query('ALTER ROLE fdl_app PASSWORD NULL; ALTER ROLE fdl_system PASSWORD NULL')),
    ).catch(() => undefined);
    await db?.drop();
  });

  it('a worker refuses fdl_app and fdl_system without their password, and accepts them with it', async () => {
    await expect(loginToWorkerWithoutPassword('fdl_app')).rejects.toThrow(/no password supplied/);
    await expect(loginToWorkerWithoutPassword('fdl_system')).rejects.toThrow(/no password supplied/);
    await expect(loginToWorker('fdl_app', 'not-the-password')).rejects.toThrow(/password authentication failed/);
    await expect(loginToWorker('fdl_app', passwords.fdl_app)).resolves.toBe('fdl_app');
  });

  it('without the passwords on the coordinator, the start warns, naming each role and worker (the roles can log in, yet requests would answer 503)', async () => {
    for (const role of ['fdl_app', 'fdl_system']) {
      for (const worker of WORKERS) {
        expect(startWarnings).toContainEqual(expect.stringMatching(new RegExp(`^${role} cannot connect to the worker 127\\.0\\.0\\.1:${workerPort(worker)} \\(failed to connect to .*\\): requests that use it will answer 503`)));
      }
    }
  });

  it('without the passwords on the coordinator, tenant requests fail: the workers refuse its connections', async () => {
    const error = await tenantRead().then(() => undefined, (e: unknown) => e);
    expect(String(error)).toMatch(/password/);
    // What a request is answered (503): the workers refused the role, not "cannot be reached".
    expect(toUnavailableError(error)?.message).toMatch(/refused the login of the transaction's role/);
  });

  it('with the passwords in pg_dist_authinfo on the coordinator, the module works through it', async () => {
    await withClient(db.url, (c) =>
      c.query(
        `INSERT INTO pg_dist_authinfo (nodeid, rolename, authinfo) VALUES (0, 'fdl_app', $1), (0, 'fdl_system', $2)`,
        [`password=${passwords.fdl_app}`, `password=${passwords.fdl_system}`],
      ),
    );
    await expect(tenantRead()).resolves.toEqual([expect.objectContaining({ tenantId: tenant, name: 'f' })]);
    await expect(app.get(TenancyService).runAsSystem(() => app.get<Repository<Flow>>(getRepositoryToken(Flow)).count())).resolves.toBe(1);
    // And a start now has nothing to warn of about the workers.
    const first = app;
    const warnings = await warningsOf(() => bootApp(DatabaseModule.forRoot({ useDatabase: true, url: db.url, readEnvironment: false, poolSize: 2 })));
    await first.close();
    expect(warnings.filter((warning) => /worker|cannot log in/.test(warning))).toEqual([]);
  });
});

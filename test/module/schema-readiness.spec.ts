import { Logger } from '@nestjs/common';
import request from 'supertest';
import { DatabaseModule, SchemaNotMigratedError } from '../../src';
import { DATABASE_MIGRATIONS } from '../../src/migrations';
import { bootApp, bootExampleApp } from '../utils/apps';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';
import { asSuperuser } from '../utils/tenant-sql';

/**
 * A database that was never migrated stops the start with the way out, instead of a server that
 * answers every request 500; FDL_RUN_MIGRATIONS migrates it at start from the environment alone.
 */
describe('Schema readiness at start', () => {
  const dbs: TestDatabase[] = [];
  const database = async (options: { migrated?: boolean } = {}) => {
    const db = await createTestDatabase(options);
    dbs.push(db);
    return db;
  };
  afterAll(async () => {
    await Promise.all(dbs.map((db) => db.drop()));
  });

  it('refuses to start on a database never migrated, naming what is missing and how to migrate', async () => {
    const db = await database({ migrated: false });
    const booting = bootApp(DatabaseModule.forRoot({ useDatabase: true, url: db.url, readEnvironment: false }));
    await expect(booting).rejects.toBeInstanceOf(SchemaNotMigratedError);
    await expect(booting).rejects.toThrow(
      /the database at DATABASE_URL is not migrated \(missing: table tenants, .*function fdl_require_active_tenant\(\), function fdl_assert_clean_session\(\)\): apply the migrations first: `npm run migration:run`.*FDL_RUN_MIGRATIONS=true/,
    );
  });

  it('FDL_RUN_MIGRATIONS=true in the environment migrates it at start, and requests are served', async () => {
    const db = await database({ migrated: false });
    const saved = process.env.FDL_RUN_MIGRATIONS;
    process.env.FDL_RUN_MIGRATIONS = 'true';
    try {
      // The example sets runMigrations: true; unset here, the variable is read like every FDL_ variable.
      const app = await bootExampleApp(db.url, { readEnvironment: true, runMigrations: undefined });
      try {
        const tenant = await request(app.getHttpServer()).post('/tenants').send({ name: 'migrated at start' }).expect(201);
        await request(app.getHttpServer()).get('/flows').set('X-Tenant-ID', tenant.body.id).expect(200, []);
      } finally {
        await app.close();
      }
    } finally {
      if (saved === undefined) delete process.env.FDL_RUN_MIGRATIONS;
      else process.env.FDL_RUN_MIGRATIONS = saved;
    }
  });

  it('warns, naming them, of migrations the application knows and the database has not run', async () => {
    const db = await database();
    const last = new DATABASE_MIGRATIONS[DATABASE_MIGRATIONS.length - 1]().name!;
    await asSuperuser(db.url, (c) => c.query(`DELETE FROM migrations WHERE name = $1`, [last]));
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const app = await bootApp(DatabaseModule.forRoot({ useDatabase: true, url: db.url, readEnvironment: false }));
      await app.close();
      expect(warn).toHaveBeenCalledWith(expect.stringContaining(`1 migration(s) not applied yet: ${last}; apply the migrations first`));
    } finally {
      warn.mockRestore();
    }
  });
});

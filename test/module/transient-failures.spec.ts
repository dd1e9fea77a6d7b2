import { Controller, Get, type INestApplication, Module, Query } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { DatabaseModule, TenancyService } from '../../src';
import { TenantContext } from '../../src/tenant-context/tenant-context';
import { bootApp } from '../utils/apps';
import { asSuperuser } from '../utils/tenant-sql';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';
import { createTenants } from '../utils/tenants';

/**
 * A transaction the server asks to run again (40001 serialization failure, 40P01 deadlock; on Citus
 * also a shard that moved or split while a statement was routed to it, and a distributed deadlock)
 * is begun again by the module when the request had seen nothing of it yet (the first round trip);
 * later, the answer is 503 with Retry-After, never a 500.
 *
 * The server raises the real errors here: `fail_first(k, code)` fails its first `k` calls with `code`,
 * counted by a sequence, which a rollback does not undo.
 */
const SETUP = `
  CREATE SEQUENCE run_again_calls;
  CREATE FUNCTION fail_first(failures integer, code text) RETURNS bigint LANGUAGE plpgsql AS $$
  DECLARE
    call bigint := nextval('run_again_calls');
  BEGIN
    IF call <= failures THEN
      RAISE EXCEPTION 'asked to run again (call %)', call USING ERRCODE = code;
    END IF;
    RETURN call;
  END $$;
  GRANT USAGE ON SEQUENCE run_again_calls TO fdl_app;
  GRANT EXECUTE ON FUNCTION fail_first(integer, text) TO fdl_app`;

@Controller('run-again')
class RunAgainController {
  static workRuns = 0;
  constructor(@InjectDataSource() private readonly dataSource: DataSource, private readonly context: TenantContext) {}

  /** `fail_first` as the request's first statement. */
  @Get('first')
  async first(@Query('k') failures: string, @Query('code') code: string): Promise<{ call: string }> {
    RunAgainController.workRuns++;
    const [row] = await this.context.require('test').manager.query('SELECT fail_first($1, $2) AS call', [Number(failures), code]);
    return row;
  }

  /** `fail_first` after the request has seen a result of its transaction. */
  @Get('later')
  async later(@Query('k') failures: string, @Query('code') code: string): Promise<{ call: string }> {
    RunAgainController.workRuns++;
    const manager = this.context.require('test').manager;
    await manager.query('SELECT 1');
    const [row] = await manager.query('SELECT fail_first($1, $2) AS call', [Number(failures), code]);
    return row;
  }
}

describe('Transactions the server asks to run again', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let tenancy: TenancyService;
  let context: TenantContext;
  let tenant: string;

  const calls = () => asSuperuser(db.url, async (c) => Number((await c.query(`SELECT last_value, is_called FROM run_again_calls`)).rows[0].last_value));
  const restart = () => asSuperuser(db.url, (c) => c.query('ALTER SEQUENCE run_again_calls RESTART'));
  const failFirst = (failures: number, code: string) =>
    tenancy.runInTenant(tenant, async () => (await context.require('test').manager.query('SELECT fail_first($1, $2) AS call', [failures, code]))[0].call);

  beforeAll(async () => {
    db = await createTestDatabase();
    await asSuperuser(db.url, (c) => c.query(SETUP));
    [tenant] = await createTenants(db.url, ['run-again']);
    @Module({
      imports: [DatabaseModule.forRoot({ url: db.url, useDatabase: true, readEnvironment: false, globalInterceptor: true, poolSize: 2 })],
      controllers: [RunAgainController],
    })
    class RunAgainModule {}
    app = await bootApp({ module: RunAgainModule });
    tenancy = app.get(TenancyService);
    context = app.get(TenantContext);
  });
  beforeEach(async () => {
    await restart();
    RunAgainController.workRuns = 0;
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it.each([
    ['40001', 'serialization failure'],
    ['40P01', 'deadlock'],
  ])('%s (%s) in the first round trip: the transaction begins again and the work sees only its result', async (code) => {
    await expect(failFirst(2, code)).resolves.toBe('3');
    await expect(calls()).resolves.toBe(3);
  });

  it('gives up after three more tries, with the server\'s own error', async () => {
    await expect(failFirst(4, '40001')).rejects.toMatchObject({ driverError: expect.objectContaining({ code: '40001' }) });
    await expect(calls()).resolves.toBe(4);
  });

  it('does not begin again for any other error', async () => {
    await expect(failFirst(1, '22012')).rejects.toMatchObject({ driverError: expect.objectContaining({ code: '22012' }) });
    await expect(calls()).resolves.toBe(1);
  });

  it('over HTTP, the handler runs once and answers 200 where the first round trip was run again', async () => {
    const res = await request(app.getHttpServer()).get('/run-again/first?k=1&code=40P01').set('X-Tenant-ID', tenant);
    expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { call: '2' } });
    expect(RunAgainController.workRuns).toBe(1);
  });

  it('after the work has seen a result, answers 503 with Retry-After, naming the reason, and nothing runs again', async () => {
    const res = await request(app.getHttpServer()).get('/run-again/later?k=1&code=40001').set('X-Tenant-ID', tenant);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.body.message).toBe('database unavailable: the server asked for the transaction to be run again (serialization failure)');
    expect(RunAgainController.workRuns).toBe(1);
    await expect(calls()).resolves.toBe(1);
  });

  it('a first round trip that keeps failing answers 503 too', async () => {
    const res = await request(app.getHttpServer()).get('/run-again/first?k=9&code=40P01').set('X-Tenant-ID', tenant);
    expect(res.status).toBe(503);
    expect(res.body.message).toBe('database unavailable: the server asked for the transaction to be run again (deadlock)');
    await expect(calls()).resolves.toBe(4);
  });
});

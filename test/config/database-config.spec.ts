import { DatabaseConfigError, loadDatabaseConfig } from '../../src';

describe(loadDatabaseConfig.name, () => {
  const url = 'postgres://app:secret@db.internal:5432/fdl';

  it('defaults to the embedded database with a pool of 10 and a 30 s query timeout', () => {
    expect(loadDatabaseConfig({})).toEqual({
      backend: 'embedded',
      url: undefined,
      dataDir: undefined,
      poolSize: 10,
      queryTimeout: 30,
      acquireTimeout: 5,
      idleInTransactionTimeout: 60,
      slowQueryThreshold: 1,
      tenantShare: 0.25,
      tenantQueue: 40,
      runMigrations: false,
    });
  });

  it('reads every variable', () => {
    expect(
      loadDatabaseConfig({
        FDL_USE_DATABASE: 'true',
        DATABASE_URL: url,
        FDL_DB_POOL_SIZE: '25',
        FDL_DB_TIMEOUT: '2.5',
        FDL_DB_ACQUIRE_TIMEOUT: '1',
        FDL_DB_IDLE_IN_TRANSACTION_TIMEOUT: '90',
        FDL_DATA_DIR: '/var/lib/fdl',
        FDL_DB_TENANT_SHARE: '0.4',
        FDL_DB_TENANT_QUEUE: '7',
        FDL_AUDIT_DIGEST_KEY: 'k'.repeat(32),
        FDL_RUN_MIGRATIONS: 'true',
      }),
    ).toEqual({
      backend: 'postgres',
      url,
      dataDir: '/var/lib/fdl',
      poolSize: 25,
      queryTimeout: 2.5,
      acquireTimeout: 1,
      idleInTransactionTimeout: 90,
      slowQueryThreshold: 1,
      tenantShare: 0.4,
      tenantQueue: 7,
      auditDigestKey: 'k'.repeat(32),
      runMigrations: true,
    });
  });

  it('bases the default tenant queue on the pool size: four rounds of it, at least 16', () => {
    expect(loadDatabaseConfig({ FDL_DB_POOL_SIZE: '25' }).tenantQueue).toBe(100);
    expect(loadDatabaseConfig({}, { poolSize: 2 }).tenantQueue).toBe(16);
  });

  it.each([
    [{ FDL_USE_DATABASE: 'banana' }, /FDL_USE_DATABASE must be 'true'.*got "banana"/],
    [{ FDL_USE_DATABASE: 'true' }, /DATABASE_URL is not set/],
    [{ FDL_USE_DATABASE: 'true', DATABASE_URL: 'not a url' }, /DATABASE_URL is not a valid URL/],
    [{ FDL_USE_DATABASE: 'true', DATABASE_URL: 'mysql://u:p@h/db' }, /DATABASE_URL must start with postgres:\/\//],
    [{ FDL_DB_POOL_SIZE: 'abc' }, /FDL_DB_POOL_SIZE must be a whole number from 1 to 1000, got "abc"/],
    [{ FDL_RUN_MIGRATIONS: 'yes' }, /FDL_RUN_MIGRATIONS must be true or false \(or 'true'\/'false'\), got "yes"/],
    [{ FDL_DB_POOL_SIZE: '0' }, /FDL_DB_POOL_SIZE must be a whole number from 1 to 1000, got 0/],
    [{ FDL_DB_POOL_SIZE: '2.5' }, /FDL_DB_POOL_SIZE must be a whole number/],
    [{ FDL_DB_POOL_SIZE: '100000' }, /FDL_DB_POOL_SIZE must be a whole number from 1 to 1000/],
    [{ FDL_DB_TIMEOUT: '-1' }, /FDL_DB_TIMEOUT must be a positive number of seconds, got "-1"/],
    [{ FDL_DB_TIMEOUT: '0' }, /FDL_DB_TIMEOUT must be a positive number of seconds, got 0/],
    [{ FDL_DB_TIMEOUT: '30s' }, /FDL_DB_TIMEOUT must be a positive number of seconds/],
    [{ FDL_DB_ACQUIRE_TIMEOUT: 'soon' }, /FDL_DB_ACQUIRE_TIMEOUT must be a positive number/],
    [{ FDL_DB_TENANT_SHARE: '0' }, /FDL_DB_TENANT_SHARE must be a number above 0 and at most 1 \(a share of the pool\), got "0"/],
    [{ FDL_DB_TENANT_SHARE: '1.5' }, /FDL_DB_TENANT_SHARE must be a number above 0 and at most 1/],
    [{ FDL_DB_TENANT_SHARE: 'half' }, /FDL_DB_TENANT_SHARE must be a number above 0/],
    [{ FDL_DB_TENANT_QUEUE: '-1' }, /FDL_DB_TENANT_QUEUE must be a whole number from 0 to 100000, got "-1"/],
    [{ FDL_DB_TENANT_QUEUE: '2.5' }, /FDL_DB_TENANT_QUEUE must be a whole number/],
    [{ FDL_AUDIT_DIGEST_KEY: 'short' }, /FDL_AUDIT_DIGEST_KEY must be at least 32 characters .*got 5$/],
  ])('rejects %j with an error naming the variable', (env, message) => {
    expect(() => loadDatabaseConfig(env)).toThrow(DatabaseConfigError);
    expect(() => loadDatabaseConfig(env)).toThrow(message);
  });

  it('never echoes the password of a malformed DATABASE_URL', () => {
    expect(() => loadDatabaseConfig({ FDL_USE_DATABASE: 'true', DATABASE_URL: 'mysql://u:hunter2@h/db' })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('hunter2') }),
    );
  });

  it('lets options given in code win over the environment, and validates them the same way', () => {
    expect(loadDatabaseConfig({ FDL_DB_POOL_SIZE: 'abc' }, { poolSize: 3 }).poolSize).toBe(3);
    expect(() => loadDatabaseConfig({}, { poolSize: 0 })).toThrow(/^poolSize must be a whole number from 1 to 1000, got 0$/);
    expect(() => loadDatabaseConfig({}, { backend: 'postgres' })).toThrow(/DATABASE_URL is not set/);
  });

  it("reads options given as strings (what @nestjs/config's ConfigService returns) exactly as the variables", () => {
    const fromStrings = loadDatabaseConfig(
      {},
      { useDatabase: 'true', url: 'postgres://u@h/db', poolSize: '5', queryTimeout: ' 2.5 ', acquireTimeout: '3', idleInTransactionTimeout: '9', slowQueryThreshold: '0.5' },
    );
    expect(fromStrings).toEqual(
      loadDatabaseConfig({
        FDL_USE_DATABASE: 'true',
        DATABASE_URL: 'postgres://u@h/db',
        FDL_DB_POOL_SIZE: '5',
        FDL_DB_TIMEOUT: ' 2.5 ',
        FDL_DB_ACQUIRE_TIMEOUT: '3',
        FDL_DB_IDLE_IN_TRANSACTION_TIMEOUT: '9',
        FDL_DB_SLOW_QUERY: '0.5',
      }),
    );
    expect(fromStrings).toMatchObject({ backend: 'postgres', poolSize: 5, queryTimeout: 2.5 });
    // 'false' is not truthy here: it selects the embedded database, as FDL_USE_DATABASE=false does.
    expect(loadDatabaseConfig({ FDL_USE_DATABASE: 'true' }, { useDatabase: 'false' }).backend).toBe('embedded');
    expect(loadDatabaseConfig({ FDL_USE_DATABASE: 'true' }, { useDatabase: false }).backend).toBe('embedded');
    // A blank string is unset, like an empty variable: the variable (then the default) applies.
    expect(loadDatabaseConfig({ FDL_DB_POOL_SIZE: '7' }, { poolSize: '' }).poolSize).toBe(7);
    expect(loadDatabaseConfig({}, { poolSize: '  ', useDatabase: '' })).toMatchObject({ poolSize: 10, backend: 'embedded' });
  });

  it('names the option, not a variable that was never set, when a value given in code is wrong', () => {
    expect(() => loadDatabaseConfig({}, { poolSize: '5x' })).toThrow(/^poolSize must be a whole number from 1 to 1000, got "5x"$/);
    expect(() => loadDatabaseConfig({}, { queryTimeout: 'soon' })).toThrow(/^queryTimeout must be a positive number of seconds, got "soon"$/);
    expect(() => loadDatabaseConfig({}, { acquireTimeout: 0 })).toThrow(/^acquireTimeout must be a positive number of seconds, got 0$/);
    expect(() => loadDatabaseConfig({}, { useDatabase: 'yes' })).toThrow(/^useDatabase must be 'true'/);
    // …and the variable when the value came from the environment.
    expect(() => loadDatabaseConfig({ FDL_DB_POOL_SIZE: '5x' })).toThrow(/^FDL_DB_POOL_SIZE must be a whole number/);
  });
});

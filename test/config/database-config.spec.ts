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
      }),
    ).toEqual({ backend: 'postgres', url, dataDir: '/var/lib/fdl', poolSize: 25, queryTimeout: 2.5, acquireTimeout: 1, idleInTransactionTimeout: 90, slowQueryThreshold: 1 });
  });

  it.each([
    [{ FDL_USE_DATABASE: 'banana' }, /FDL_USE_DATABASE must be 'true'.*got "banana"/],
    [{ FDL_USE_DATABASE: 'true' }, /DATABASE_URL is not set/],
    [{ FDL_USE_DATABASE: 'true', DATABASE_URL: 'not a url' }, /DATABASE_URL is not a valid URL/],
    [{ FDL_USE_DATABASE: 'true', DATABASE_URL: 'mysql://u:p@h/db' }, /DATABASE_URL must start with postgres:\/\//],
    [{ FDL_DB_POOL_SIZE: 'abc' }, /FDL_DB_POOL_SIZE must be a whole number from 1 to 1000, got "abc"/],
    [{ FDL_DB_POOL_SIZE: '0' }, /FDL_DB_POOL_SIZE must be a whole number from 1 to 1000, got 0/],
    [{ FDL_DB_POOL_SIZE: '2.5' }, /FDL_DB_POOL_SIZE must be a whole number/],
    [{ FDL_DB_POOL_SIZE: '100000' }, /FDL_DB_POOL_SIZE must be a whole number from 1 to 1000/],
    [{ FDL_DB_TIMEOUT: '-1' }, /FDL_DB_TIMEOUT must be a positive number of seconds, got "-1"/],
    [{ FDL_DB_TIMEOUT: '0' }, /FDL_DB_TIMEOUT must be a positive number of seconds, got 0/],
    [{ FDL_DB_TIMEOUT: '30s' }, /FDL_DB_TIMEOUT must be a positive number of seconds/],
    [{ FDL_DB_ACQUIRE_TIMEOUT: 'soon' }, /FDL_DB_ACQUIRE_TIMEOUT must be a positive number/],
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
    expect(() => loadDatabaseConfig({}, { poolSize: 0 })).toThrow(/FDL_DB_POOL_SIZE must be a whole number from 1 to 1000, got 0/);
    expect(() => loadDatabaseConfig({}, { backend: 'postgres' })).toThrow(/DATABASE_URL is not set/);
  });
});

import { DatabaseConfigError, migrationDataSourceOptions } from '../../src';

describe(migrationDataSourceOptions.name, () => {
  it.each([undefined, '', '  '])('refuses an unset URL (%p), naming DATABASE_URL and saying the CLI does not read .env', (url) => {
    expect(() => migrationDataSourceOptions(url)).toThrow(DatabaseConfigError);
    expect(() => migrationDataSourceOptions(url)).toThrow(/^DATABASE_URL is not set: .*The typeorm CLI does not read \.env/);
  });

  it('refuses a URL that is not PostgreSQL, without echoing its password', () => {
    expect(() => migrationDataSourceOptions('mysql://u:hunter2@h/db')).toThrow(/DATABASE_URL must start with postgres:\/\//);
    expect(() => migrationDataSourceOptions('mysql://u:hunter2@h/db')).not.toThrow(/hunter2/);
  });

  it("gives the library's migrations, then the application's", () => {
    class AppMigration1800000000000 {
      async up(): Promise<void> {}
      async down(): Promise<void> {}
    }
    const options = migrationDataSourceOptions('postgres://u@h/db', { migrations: [AppMigration1800000000000] });
    expect(options.url).toBe('postgres://u@h/db');
    expect((options.migrations as unknown[]).at(-1)).toBe(AppMigration1800000000000);
  });
});

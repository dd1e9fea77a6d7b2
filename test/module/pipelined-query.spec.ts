import { Client } from 'pg';
import { type PipelineError, queryPipelined } from '../../src/connection/pipelined-query';
import { createTestDatabase, type TestDatabase } from '../utils/test-database';

/** Several statements in one round trip, on a real server: results, discarded rows, errors, names. */
describe('queryPipelined', () => {
  let db: TestDatabase;
  let client: Client;

  beforeAll(async () => {
    db = await createTestDatabase({ migrated: false });
    client = new Client({ connectionString: db.url });
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
    await db?.drop();
  });

  it('answers one result per statement, each parsed by its own column types', async () => {
    const results = await queryPipelined(client, [
      { text: 'SELECT $1::int AS n', values: [7] },
      { text: `SELECT $1::timestamptz AS at, $2::text AS label`, values: ['2026-01-02T03:04:05Z', 'x'] },
    ]);
    expect(results.map((r) => r.rows)).toEqual([[{ n: 7 }], [{ at: new Date('2026-01-02T03:04:05Z'), label: 'x' }]]);
  });

  it('sends a statement whose rows are discarded without Describe: no fields, no rows, the others intact', async () => {
    const results = await queryPipelined(client, [
      { text: 'BEGIN', discardRows: true },
      { text: `SELECT set_config('app.x', $1, true)`, values: ['v'], discardRows: true },
      { text: `SELECT current_setting('app.x') AS x, $1::int AS n`, values: [1] },
      { text: 'COMMIT', discardRows: true },
    ]);
    expect(results.map((r) => r.command)).toEqual(['BEGIN', 'SELECT', 'SELECT', 'COMMIT']);
    // No RowDescription came back for the discarded SELECT: the server was not asked for one.
    expect(results[1]).toMatchObject({ fields: [], rows: [], rowCount: 1 });
    expect(results[2].fields.map((f) => f.name)).toEqual(['x', 'n']);
    expect(results[2].rows).toEqual([{ x: 'v', n: 1 }]);
  });

  it('rejects with the index of the failing statement, discarded or not, and runs nothing after it', async () => {
    await client.query('CREATE TEMP TABLE IF NOT EXISTS pipelined_marks (n int)');
    const failing = queryPipelined(client, [
      { text: 'BEGIN', discardRows: true },
      { text: 'SELECT 1 / $1::int', values: [0], discardRows: true },
      { text: 'INSERT INTO pipelined_marks VALUES (1)' },
    ]);
    await expect(failing).rejects.toMatchObject({ code: '22012', statementIndex: 1 } satisfies Partial<PipelineError & { code: string }>);
    await client.query('ROLLBACK');
    expect((await client.query('SELECT count(*)::int AS n FROM pipelined_marks')).rows).toEqual([{ n: 0 }]);
  });

  it('parses a named statement once per connection and binds it afterwards, discarded rows included', async () => {
    const statements = [
      { text: 'SELECT $1::int AS n', values: [1], name: 'pipelined_spec_a', discardRows: true },
      { text: 'SELECT $1::int + 1 AS n', values: [1], name: 'pipelined_spec_b' },
    ];
    const first = await queryPipelined(client, statements);
    const second = await queryPipelined(client, [statements[0], { ...statements[1], values: [41] }]);
    expect([first[1].rows, second[1].rows]).toEqual([[{ n: 2 }], [{ n: 42 }]]);
    const prepared = await client.query(`SELECT name FROM pg_prepared_statements WHERE name LIKE 'pipelined_spec_%' ORDER BY name`);
    expect(prepared.rows).toEqual([{ name: 'pipelined_spec_a' }, { name: 'pipelined_spec_b' }]);
  });
});

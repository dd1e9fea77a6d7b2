import { existsSync } from 'node:fs';
import { Client } from 'pg';
import { startPostgresContainer } from './docker-engine';

// Decided before the run (Jest needs it synchronously): no DOCKER_HOST and no default socket means
// no engine, and the test is reported as skipped, with the reason printed.
const engineExpected = Boolean(process.env.DOCKER_HOST) || existsSync('/var/run/docker.sock');
if (!engineExpected) console.warn('Testcontainers test skipped: no Docker engine here (no DOCKER_HOST, no /var/run/docker.sock)');

describe('The Testcontainers path', () => {
  (engineExpected ? it : it.skip)('starts postgres:16 and serves a PostgreSQL 16 the tests can use', async () => {
    const container = await startPostgresContainer();
    const client = new Client({ connectionString: container.url });
    try {
      await client.connect();
      const { rows } = await client.query(`SELECT current_setting('server_version_num')::int AS v`);
      expect(rows[0].v).toBeGreaterThanOrEqual(160000);
    } finally {
      await client.end();
      await container.stop();
    }
  }, 180_000);
});

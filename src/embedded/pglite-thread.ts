import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { PGliteWorkerOptions, PGliteWorkerReply, PGliteWorkerRequest } from './pglite-worker.protocol';
import { workerOptionsWithoutPreloads } from './worker-preloads';

type Answer = 'started' | 'snapshot-started' | 'stopped';
const ANSWERS: Record<'start' | PGliteWorkerRequest['type'], Answer> = { start: 'started', snapshot: 'snapshot-started', stop: 'stopped' };

/** Starts the worker with the process's Node options less its preloads (see worker-preloads.ts). */
function startWorker(workerData: PGliteWorkerOptions): Worker {
  const file = join(__dirname, 'pglite-worker.js');
  const options = workerOptionsWithoutPreloads();
  try {
    return new Worker(file, { workerData, ...options });
  } catch (error) {
    // An explicit execArgv may not hold V8 flags; those are process-wide and in force anyway.
    if ((error as { code?: string }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw error;
    return new Worker(file, { workerData, ...options, execArgv: [] });
  }
}

/** The embedded database's thread, seen from the application's: start it, snapshot it, stop it. */
export class PGliteThread {
  private readonly waiting = new Map<Answer, { resolve(reply: PGliteWorkerReply): void; reject(error: Error): void }>();
  private exited = false;
  private stopping = false;

  private constructor(
    private readonly worker: Worker,
    private readonly log: (message: string) => void,
  ) {
    worker.on('message', (reply: PGliteWorkerReply) => this.receive(reply));
    worker.on('error', (error) => this.failAll(error));
    worker.on('exit', (code) => {
      this.exited = true;
      const error = new Error(`the embedded database's thread exited (code ${code})`);
      if (!this.stopping && this.waiting.size === 0) this.log(error.message);
      this.failAll(error);
    });
  }

  /** Starts PGlite in its own thread; resolves once it accepts connections. */
  static async start(options: PGliteWorkerOptions, log: (message: string) => void) {
    const thread = new PGliteThread(startWorker(options), log);
    try {
      const started = (await thread.answer('started')) as Extract<PGliteWorkerReply, { type: 'started' }>;
      return { thread, url: started.url, startedFrom: started.startedFrom };
    } catch (error) {
      thread.stopping = true;
      await thread.worker.terminate();
      throw error;
    }
  }

  /**
   * Snapshots the cluster as it is now into `path`. Resolves as soon as the snapshot has begun:
   * statements clients send afterwards run once it is taken, and `stop` waits for its file.
   */
  async snapshot(path: string): Promise<void> {
    await this.request({ type: 'snapshot', path });
  }

  /** Closes the socket server and PGlite (a data directory is left consistent), then the thread. */
  async stop(): Promise<void> {
    if (this.exited) return;
    this.stopping = true;
    try {
      await this.request({ type: 'stop' });
    } finally {
      await this.worker.terminate();
    }
  }

  private request(request: PGliteWorkerRequest): Promise<PGliteWorkerReply> {
    const answer = this.answer(ANSWERS[request.type]);
    this.worker.postMessage(request);
    return answer;
  }

  private answer(type: Answer): Promise<PGliteWorkerReply> {
    if (this.exited) return Promise.reject(new Error("the embedded database's thread is not running"));
    return new Promise((resolve, reject) => this.waiting.set(type, { resolve, reject }));
  }

  private receive(reply: PGliteWorkerReply): void {
    if (reply.type === 'log') return this.log(reply.message);
    const awaited = reply.type === 'failed' ? ANSWERS[reply.request] : reply.type;
    const waiter = this.waiting.get(awaited);
    this.waiting.delete(awaited);
    if (reply.type === 'failed') {
      const error = new Error(`embedded PostgreSQL: ${reply.message}`);
      return waiter ? waiter.reject(error) : this.log(error.message);
    }
    waiter?.resolve(reply);
  }

  private failAll(error: Error): void {
    for (const waiter of this.waiting.values()) waiter.reject(error);
    this.waiting.clear();
  }
}

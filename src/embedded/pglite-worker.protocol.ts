/** What the embedded database's thread (pglite-worker.js) is started with. */
export interface PGliteWorkerOptions {
  /** Keep the files here; unset: in memory. */
  dataDir?: string;
  /** The data directory already holds a cluster: open it as it is. */
  dataDirExists: boolean;
  /** Load this snapshot of a migrated cluster if it exists; unset: no snapshot applies. */
  snapshotPath?: string;
  maxConnections: number;
}

/** Sent to the thread. */
export type PGliteWorkerRequest =
  /** Write the cluster as it is now to `path` (the migrated schema, before any use). */
  | { type: 'snapshot'; path: string }
  | { type: 'stop' };

/** Sent by the thread. */
export type PGliteWorkerReply =
  | { type: 'started'; url: string; startedFrom: 'fresh' | 'snapshot' | 'data-dir' }
  | { type: 'snapshot-started' }
  | { type: 'stopped' }
  | { type: 'log'; message: string }
  | { type: 'failed'; request: 'start' | PGliteWorkerRequest['type']; message: string };

// @ts-check
/*
 * The embedded PostgreSQL's own thread: PGlite (PostgreSQL compiled to WebAssembly) and the socket
 * server that speaks the wire protocol for it. A thread of its own keeps the database's work off the
 * application's event loop, so on two cores the two run side by side, at start and while serving.
 *
 * Plain JavaScript: a worker thread runs outside ts-node's and Jest's module hooks.
 * The messages are typed in pglite-worker.protocol.ts.
 */
const { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } = require('node:fs');
const { dirname } = require('node:path');
const { parentPort, workerData } = require('node:worker_threads');

/** @typedef {import('./pglite-worker.protocol').PGliteWorkerOptions} PGliteWorkerOptions */
/** @typedef {import('./pglite-worker.protocol').PGliteWorkerRequest} PGliteWorkerRequest */
/** @typedef {import('./pglite-worker.protocol').PGliteWorkerReply} PGliteWorkerReply */

const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);
const options = /** @type {PGliteWorkerOptions} */ (workerData);

/** @param {PGliteWorkerReply} reply */
const reply = (reply) => port.postMessage(reply);

/** @param {unknown} error */
const describe = (error) => (error instanceof Error ? error.message : String(error));

async function main() {
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');

  /** @type {import('@electric-sql/pglite').PGlite | undefined} */
  let db;
  /** @type {'fresh' | 'snapshot' | 'data-dir'} */
  let startedFrom = options.dataDirExists ? 'data-dir' : 'fresh';
  if (options.snapshotPath) {
    try {
      const snapshot = new Blob([readFileSync(options.snapshotPath)]);
      db = await PGlite.create({ dataDir: options.dataDir, loadDataDir: snapshot });
      startedFrom = 'snapshot';
    } catch (error) {
      // Missing (not cached yet) is the ordinary case; unreadable is worth a word.
      if (/** @type {NodeJS.ErrnoException} */ (error).code !== 'ENOENT') {
        reply({ type: 'log', message: `embedded snapshot unreadable (${describe(error)}): starting fresh` });
        rmSync(options.snapshotPath, { force: true });
      }
    }
  }
  db ??= await PGlite.create({ dataDir: options.dataDir });
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: options.maxConnections });
  await server.start();
  reply({ type: 'started', connection: server.getServerConn(), startedFrom });

  const database = db;
  port.on('message', async (/** @type {PGliteWorkerRequest} */ request) => {
    try {
      if (request.type === 'snapshot') {
        // A checkpoint first: the snapshot then starts without replaying WAL.
        await database.exec('CHECKPOINT');
        const snapshot = Buffer.from(await (await database.dumpDataDir('none')).arrayBuffer());
        // Taken: the caller may go on using the database while the file is written.
        reply({ type: 'snapshot-taken' });
        writeAtomically(request.path, snapshot);
      } else if (request.type === 'stop') {
        await server.stop();
        await database.close();
        reply({ type: 'stopped' });
        port.close();
      }
    } catch (error) {
      reply({ type: 'failed', request: request.type, message: describe(error) });
    }
  });
}

/**
 * Written to a temporary file and renamed: a reader never sees half a snapshot. Synchronous, so that
 * it is done before the next request (a `stop`) is handled. A cache that cannot be written only
 * costs the next start its speed.
 * @param {string} path
 * @param {Buffer} data
 */
function writeAtomically(path, data) {
  const temporary = `${path}.${process.pid}.${Date.now()}.tmp`;
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(temporary, data);
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    reply({ type: 'log', message: `embedded snapshot not saved: ${describe(error)}` });
  }
}

main().catch((error) => reply({ type: 'failed', request: 'start', message: describe(error) }));

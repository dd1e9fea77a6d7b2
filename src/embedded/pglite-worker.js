// @ts-check
/*
 * The embedded PostgreSQL's own thread: PGlite (PostgreSQL compiled to WebAssembly) and the socket
 * server that speaks the wire protocol for it. A thread of its own keeps the database's work off the
 * application's event loop, so on two cores the two run side by side, at start and while serving.
 *
 * Plain JavaScript: a worker thread runs outside ts-node's and Jest's module hooks.
 * The messages are typed in pglite-worker.protocol.ts.
 */
const { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { dirname, join } = require('node:path');
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

/*
 * initdb runs thousands of PostgreSQL's functions a few times each; under V8's default budget many
 * are recompiled by TurboFan on background threads, which on a two-core machine take the cores the
 * application needs to load (measured: 4.2 s of CPU for a 3.1 s initdb, 3.3 s with this budget).
 * A hundred times the budget leaves the one-off work on the baseline compiler and still optimises
 * what a running server keeps hot: query speed after warm-up is unchanged. The flag is the
 * process's, so other WebAssembly in it tiers up later too; set before PGlite's module compiles.
 */
const WASM_TIERING_BUDGET = '--wasm-tiering-budget=180000000';

async function main() {
  require('node:v8').setFlagsFromString(WASM_TIERING_BUDGET);
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');

  /** @type {import('@electric-sql/pglite').PGlite | undefined} */
  let db;
  /** @type {'fresh' | 'snapshot' | 'data-dir'} */
  let startedFrom = options.dataDirExists ? 'data-dir' : 'fresh';
  const snapshot = options.snapshotPath && readIfPossible(options.snapshotPath);
  if (options.snapshotPath && snapshot) {
    try {
      db = await PGlite.create({ dataDir: options.dataDir, loadDataDir: new Blob([snapshot]) });
      startedFrom = 'snapshot';
    } catch (error) {
      reply({ type: 'log', message: `embedded snapshot unusable (${describe(error)}): starting fresh` });
      removeIfPossible(options.snapshotPath);
    }
  }
  db ??= await PGlite.create({ dataDir: options.dataDir });
  // Clients connect as the superuser without a password: the server listens on a Unix socket in a
  // directory only this user may enter (mkdtemp makes it 0700), so no other local user can reach
  // it. Windows has no such sockets; there it is loopback TCP, open to every local process.
  const socketDir = process.platform === 'win32' ? undefined : mkdtempSync(join(tmpdir(), 'fdl-pglite-'));
  const server = new PGLiteSocketServer({
    db,
    maxConnections: options.maxConnections,
    ...(socketDir ? { path: join(socketDir, '.s.PGSQL.5432') } : { host: '127.0.0.1', port: 0 }),
  });
  const removeSocketDir = () => socketDir && rmSync(socketDir, { recursive: true, force: true });
  try {
    await server.start();
  } catch (error) {
    removeSocketDir();
    throw error;
  }
  // node-postgres reads a percent-encoded path as the socket's directory, as libpq does.
  const host = socketDir ? encodeURIComponent(socketDir) : server.getServerConn();
  reply({ type: 'started', url: `postgres://postgres@${host}/postgres`, startedFrom });

  const database = db;
  /** The snapshot being taken, if one was asked for: stopping waits for its file. */
  let snapshotting = Promise.resolve();
  port.on('message', async (/** @type {PGliteWorkerRequest} */ request) => {
    try {
      if (request.type === 'snapshot') {
        // A checkpoint first: loading the snapshot then replays no WAL.
        await database.exec('CHECKPOINT');
        // PGlite runs statements one at a time, in the order they ask for its query lock. The dump
        // asks now, before the reply; a client's statement can only follow the reply, so it runs
        // after the dump, and the caller need not wait for the dump itself.
        snapshotting = database
          .dumpDataDir('none')
          .then(async (dump) => writeAtomically(request.path, Buffer.from(await dump.arrayBuffer())))
          // A cache that cannot be written only costs the next start its speed.
          .catch((error) => reply({ type: 'log', message: `embedded snapshot not saved: ${describe(error)}` }));
        reply({ type: 'snapshot-started' });
      } else if (request.type === 'stop') {
        await snapshotting;
        await server.stop();
        removeSocketDir();
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
 * The file's bytes, or nothing when it is missing (not cached yet) or cannot be read: the start goes
 * on without it, and a cache directory that cannot be used is reported when the snapshot is saved.
 * @param {string} path
 */
function readIfPossible(path) {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Written to a temporary file and renamed: a reader never sees half a snapshot.
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
    removeIfPossible(temporary);
    throw error;
  }
}

/**
 * Best effort: what cannot be removed stays, and the error that led here is the one reported.
 * @param {string} path
 */
function removeIfPossible(path) {
  try {
    rmSync(path, { force: true });
  } catch {
    // e.g. ENOTDIR or EACCES, the very reason the file could not be used
  }
}

main().catch((error) => reply({ type: 'failed', request: 'start', message: describe(error) }));

// Embedded PostgreSQL: PGlite served over the PostgreSQL wire protocol by pglite-socket.
// Runs in a worker_thread so a slow query never blocks the API's event loop.
// Plain CommonJS on purpose: it must load unchanged from `src/` (vitest) and `dist/` (node), and
// worker threads do not go through the TypeScript toolchain.
'use strict';
const { parentPort, workerData } = require('node:worker_threads');

async function main() {
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const db = await PGlite.create({ dataDir: workerData.dataDir });
  // One connection for the app's pool (max 1) plus one spare so the pool can reconnect:
  // pglite-socket interleaves clients message by message, which breaks with more than one in use.
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 2 });
  await server.start();
  const conn = server.getServerConn();
  const port = Number(conn.slice(conn.lastIndexOf(':') + 1));
  let stopping = null;
  parentPort.on('message', (message) => {
    if (message && message.type === 'stop') {
      stopping ??= (async () => {
        try {
          await server.stop();
        } finally {
          await db.close();
        }
      })();
      stopping.then(
        () => parentPort.postMessage({ type: 'stopped' }),
        (error) => parentPort.postMessage({ type: 'stopped', error: String(error && error.message) }),
      );
    }
  });
  parentPort.postMessage({ type: 'ready', port });
}

main().catch((error) => {
  parentPort.postMessage({ type: 'failed', error: String((error && error.stack) || error) });
});

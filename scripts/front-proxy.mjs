#!/usr/bin/env node
/**
 * A small front proxy for several API replicas on one host (benchmarks, tests, trying replicas
 * locally): HTTP requests round-robin over the replicas, websockets (Socket.IO, preview HMR)
 * included; a replica whose /health/ready does not answer 200 (down, or draining after SIGTERM)
 * leaves the rotation until it does. No sticky sessions: the API's sockets are websocket only.
 *
 *   node scripts/front-proxy.mjs --port 3000 --upstream 127.0.0.1:3210 --upstream 127.0.0.1:3211
 *
 * Also importable: startFrontProxy({ port, upstreams }) answers { port, close() }.
 * Loopback and the given upstreams only.
 */
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const CHECK_EVERY_MS = 1_000;

export async function startFrontProxy({ port = 0, upstreams }) {
  const targets = upstreams.map((address) => {
    const [host, p] = address.split(':');
    return { host, port: Number(p), ready: true };
  });
  let next = 0;
  const pick = () => {
    const ready = targets.filter((t) => t.ready);
    const pool = ready.length > 0 ? ready : targets;
    return pool[next++ % pool.length];
  };
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

  const check = () =>
    Promise.all(
      targets.map(
        (target) =>
          new Promise((resolve) => {
            const req = http.get({ host: target.host, port: target.port, path: '/health/ready', timeout: 2_000 }, (res) => {
              res.resume();
              target.ready = res.statusCode === 200;
              resolve();
            });
            req.on('timeout', () => req.destroy());
            req.on('error', () => {
              target.ready = false;
              resolve();
            });
          }),
      ),
    );
  await check();
  const timer = setInterval(() => void check(), CHECK_EVERY_MS);

  const server = http.createServer((req, res) => {
    const target = pick();
    const upstream = http.request(
      { host: target.host, port: target.port, method: req.method, path: req.url, headers: endToEnd(req.headers), agent },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, endToEnd(answer.headers));
        answer.pipe(res);
      },
    );
    upstream.on('error', (error) => {
      // The replica went away under the request: it leaves the rotation until its next check.
      target.ready = false;
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`upstream ${target.host}:${target.port} failed: ${error.message}`);
    });
    req.pipe(upstream);
  });
  server.on('upgrade', (req, socket, head) => {
    const target = pick();
    const upstream = net.connect(target.port, target.host, () => {
      const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    async close() {
      clearInterval(timer);
      agent.destroy();
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * Headers without the hop-by-hop ones (RFC 9110 7.6.1): each side's connection is its own. A
 * client's `Connection: close` passed on over a kept upstream connection had the replica answer
 * the next request sent on it 400 (seen in the bench: a preview GET, then an API call).
 */
function endToEnd(headers) {
  const hop = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade']);
  for (const name of String(headers.connection ?? '').split(',')) hop.add(name.trim().toLowerCase());
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !hop.has(name)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const upstreams = [];
  let port = 3000;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--port') port = Number(args[++i]);
    else if (args[i] === '--upstream') upstreams.push(args[++i]);
    else throw new Error(`unknown argument ${args[i]}`);
  }
  if (upstreams.length === 0) throw new Error('give at least one --upstream host:port');
  const proxy = await startFrontProxy({ port, upstreams });
  console.log(`front proxy on 127.0.0.1:${proxy.port} → ${upstreams.join(', ')}`);
  process.once('SIGTERM', () => void proxy.close().then(() => process.exit(0)));
  process.once('SIGINT', () => void proxy.close().then(() => process.exit(0)));
}

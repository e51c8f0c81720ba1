#!/usr/bin/env node
/**
 * The front proxy of several API (or web app) replicas: HTTP requests round-robin over the
 * replicas, websockets (Socket.IO, preview HMR) included; a replica whose health path (by default
 * /health/ready) does not answer 200, or that answers a request 503 (draining after SIGTERM),
 * leaves the rotation until its next check passes. No sticky sessions: the API's sockets are
 * websocket only. No IPVS either: on a swarm it is the stack's `front` service, published in host
 * mode (plain DNAT), which finds the replicas itself by DNS (`tasks.<service>`, endpoint_mode
 * dnsrr), asked again every second, so a task that starts or goes away in a rolling update is in
 * or out of the rotation within about a second (README, Deploy on a cluster).
 *
 *   static:  node scripts/front-proxy.mjs --port 3000 --upstream 127.0.0.1:3210 --upstream 127.0.0.1:3211
 *   swarm:   node scripts/front-proxy.mjs --host 0.0.0.0 --port 3000 --dns tasks.api:3000 \
 *              --port 3001 --dns tasks.web:3001 --health-path /login
 * Each `--port` starts a listener; the options after it (`--upstream`, `--dns`, `--health-path`)
 * are that listener's.
 *
 * Also importable: startFrontProxy({ port, host, upstreams | dns, healthPath }) answers { port, close() }.
 */
import { lookup } from 'node:dns/promises';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const CHECK_EVERY_MS = 1_000;

export async function startFrontProxy({ port = 0, host = '127.0.0.1', upstreams = [], dns, healthPath = '/health/ready' }) {
  if (upstreams.length === 0 && !dns) throw new Error('give upstreams (host:port) or a dns name:port');
  /** The replicas, by address: `ready` follows their health path. */
  const targets = new Map();
  const add = (address, ready) => {
    const at = address.lastIndexOf(':');
    targets.set(address, { host: address.slice(0, at), port: Number(address.slice(at + 1)), ready });
  };
  for (const address of upstreams) add(address, true);

  /** A name's addresses now; each answer replaces the set (a task gone from DNS leaves the rotation). */
  const resolve = async () => {
    if (!dns) return;
    const at = dns.lastIndexOf(':');
    const [name, targetPort] = [dns.slice(0, at), dns.slice(at + 1)];
    const found = await lookup(name, { all: true, family: 4 }).catch(() => []);
    const addresses = new Set(found.map(({ address }) => `${address}:${targetPort}`));
    for (const address of targets.keys()) if (!addresses.has(address)) targets.delete(address);
    // A new task waits for its first passing check: it may still be starting.
    for (const address of addresses) if (!targets.has(address)) add(address, false);
  };

  let next = 0;
  const pick = () => {
    const all = [...targets.values()];
    const ready = all.filter((t) => t.ready);
    const pool = ready.length > 0 ? ready : all;
    return pool.length > 0 ? pool[next++ % pool.length] : undefined;
  };
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

  const probe = (target) =>
    new Promise((done) => {
      const req = http.get({ host: target.host, port: target.port, path: healthPath, timeout: 2_000 }, (res) => {
        res.resume();
        target.ready = res.statusCode === 200;
        done();
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => {
        target.ready = false;
        done();
      });
    });
  const check = async () => {
    await resolve();
    await Promise.all([...targets.values()].map(probe));
  };
  await check();
  let stopped = false;
  // One round at a time: a slow DNS answer or probe never piles rounds up.
  const loop = async () => {
    while (!stopped) {
      await new Promise((r) => setTimeout(r, CHECK_EVERY_MS));
      if (!stopped) await check();
    }
  };
  const rounds = loop();

  const server = http.createServer((req, res) => {
    const target = pick();
    if (!target) {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end(`no replica of ${dns} is known yet`);
      return;
    }
    const upstream = http.request(
      { host: target.host, port: target.port, method: req.method, path: req.url, headers: endToEnd(req.headers), agent },
      (answer) => {
        // A draining replica answers new work 503: it leaves the rotation now, not at its next check.
        if (answer.statusCode === 503) target.ready = false;
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
    if (!target) return void socket.destroy();
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
  await new Promise((done) => server.listen(port, host, done));
  return {
    port: server.address().port,
    async close() {
      stopped = true;
      agent.destroy();
      server.closeAllConnections?.();
      await new Promise((done) => server.close(done));
      await rounds;
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

/** The listeners the arguments ask for: each `--port` starts one; `--host` applies to all. */
export function parseArguments(args) {
  const listeners = [];
  let host = '127.0.0.1';
  const current = () => {
    if (listeners.length === 0) listeners.push({ port: 3000, upstreams: [] });
    return listeners[listeners.length - 1];
  };
  for (let i = 0; i < args.length; i++) {
    const value = args[i + 1];
    if (args[i] !== '--host' && args[i] !== '--port' && value === undefined) throw new Error(`${args[i]} needs a value`);
    switch (args[i]) {
      case '--host':
        host = args[++i];
        break;
      case '--port':
        listeners.push({ port: Number(args[++i]), upstreams: [] });
        break;
      case '--upstream':
        current().upstreams.push(args[++i]);
        break;
      case '--dns':
        current().dns = args[++i];
        break;
      case '--health-path':
        current().healthPath = args[++i];
        break;
      default:
        throw new Error(`unknown argument ${args[i]}`);
    }
  }
  for (const listener of listeners) {
    if (listener.upstreams.length === 0 && !listener.dns) throw new Error(`port ${listener.port}: give --upstream host:port or --dns name:port`);
  }
  return listeners.map((listener) => ({ ...listener, host }));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const proxies = [];
  for (const listener of parseArguments(process.argv.slice(2))) {
    const proxy = await startFrontProxy(listener);
    proxies.push(proxy);
    console.log(`front proxy on ${listener.host}:${proxy.port} → ${listener.dns ?? listener.upstreams.join(', ')}`);
  }
  const stop = () => void Promise.all(proxies.map((proxy) => proxy.close())).then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

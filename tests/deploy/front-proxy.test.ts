import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { parseArguments, startFrontProxy, type FrontProxy } from '../../scripts/front-proxy.mjs';
import { waitFor } from '../support/http';

// Ports of this file: replicas on 8702-8704, the proxies on ports the system picks. Loopback only.
const PORTS = { a: 8702, b: 8703, c: 8704 };

/** A stand-in replica: answers its name, and its readiness with `ready` (200 or 503). */
async function replica(name: string, port: number, answer = 200) {
  const state = { ready: 200, answer, hits: 0 };
  const server = http.createServer((req, res) => {
    if (req.url === '/health/ready') {
      res.writeHead(state.ready).end();
      return;
    }
    state.hits++;
    res.writeHead(state.answer).end(name);
  });
  await new Promise<void>((done) => server.listen(port, '127.0.0.1', done));
  return { state, close: () => new Promise<void>((done) => server.close(() => done())) };
}

describe('scripts/front-proxy.mjs', () => {
  const closing: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of closing.splice(0).reverse()) await close();
  });
  const get = async (proxy: FrontProxy) => {
    const res = await fetch(`http://127.0.0.1:${proxy.port}/api`);
    return { status: res.status, body: await res.text() };
  };

  it('drops a replica at its first 503 answer, before its readiness is checked again', async () => {
    const a = await replica('a', PORTS.a);
    const b = await replica('b', PORTS.b);
    closing.push(a.close, b.close);
    const proxy = await startFrontProxy({ upstreams: [`127.0.0.1:${PORTS.a}`, `127.0.0.1:${PORTS.b}`] });
    closing.push(() => proxy.close());
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) seen.add((await get(proxy)).body);
    expect(seen).toEqual(new Set(['a', 'b']));

    // b drains: its answers are 503 (readiness too, but the proxy has not looked yet).
    b.state.answer = 503;
    b.state.ready = 503;
    const answers = [];
    for (let i = 0; i < 10; i++) answers.push(await get(proxy));
    expect(answers.filter((r) => r.status === 503).length).toBeLessThanOrEqual(1);
    expect(answers.slice(-8).every((r) => r.body === 'a')).toBe(true);

    // Ready again, it is back once checked.
    b.state.answer = 200;
    b.state.ready = 200;
    await waitFor('b back in the rotation', async () => ((await get(proxy)).body === 'b' ? true : undefined), { timeoutMs: 10_000 });
  });

  it('finds its replicas by DNS, each entering the rotation at its first passing check', async () => {
    const c = await replica('c', PORTS.c);
    closing.push(c.close);
    c.state.ready = 503;
    const proxy = await startFrontProxy({ dns: `localhost:${PORTS.c}` });
    closing.push(() => proxy.close());
    // Known but not ready, and the only one: the proxy still tries it (nothing better to do).
    expect((await get(proxy)).body).toBe('c');
    c.state.ready = 200;
    await waitFor('c to pass its check', async () => ((await get(proxy)).status === 200 ? true : undefined), { timeoutMs: 10_000 });
  });

  it('reads one listener per --port, each with its own replicas and health path', () => {
    expect(
      parseArguments(['--host', '0.0.0.0', '--port', '3000', '--dns', 'tasks.api:3000', '--port', '3001', '--dns', 'tasks.web:3001', '--health-path', '/login']),
    ).toEqual([
      { host: '0.0.0.0', port: 3000, upstreams: [], dns: 'tasks.api:3000' },
      { host: '0.0.0.0', port: 3001, upstreams: [], dns: 'tasks.web:3001', healthPath: '/login' },
    ]);
    expect(() => parseArguments(['--port', '3000'])).toThrow(/give --upstream/);
    expect(() => parseArguments(['--port', '3000', '--upstreem', 'x'])).toThrow(/unknown argument --upstreem/);
  });
});

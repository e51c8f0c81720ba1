/**
 * Several API replicas behind one address (scripts/front-proxy.mjs), against one replica, in the
 * same run and on the same database:
 * - `GET /workspace/:id/status` throughput through a front proxy over one replica and through one
 *   over two, in alternating rounds (on one 2-core host both replicas and the proxy share the CPU,
 *   so this measures what the extra hop and the spreading cost, not what a second node adds);
 * - create → first full page, cold, through each front proxy (the preview URL's port is the proxy's);
 * - socket event latency: `PUT` of a page → `hmr-update` at a socket on the replica that holds the
 *   session's relay and at a socket on the other replica (the event crosses the PostgreSQL
 *   adapter). Both sockets hear the same edits, so each pair is measured at the same moment.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { io } from 'socket.io-client';
import { startFrontProxy } from '../scripts/front-proxy.mjs';
import {
  apiClient,
  createDatabase,
  createToFirstPage,
  HERO,
  httpGet,
  load,
  log,
  marker,
  median,
  newUser,
  ratio,
  removeDatabase,
  startApi,
  stopProcess,
  summary,
  waitForFullPage,
} from './lib.mjs';

const PORTS = { a: 3106, b: 3107 };
/** Its previews' ports: apart from the test suites' and the rest of the benchmark's ranges. */
const PREVIEW_PORTS = { PORT_RANGE_START: '8830', PORT_RANGE_END: '8839' };
const PAGE = 'src/pages/index.astro';

export async function benchReplicas({ runs, hmrRuns, dataDir, loadSeconds, loadConcurrency }) {
  const databaseUrl = await createDatabase();
  const children = [];
  const proxies = [];
  try {
    // One secret for both: a token either replica signed is good on the other.
    const env = { ...PREVIEW_PORTS, START_CONCURRENCY: '1', JWT_SECRET: randomBytes(32).toString('hex') };
    for (const [name, port] of Object.entries(PORTS)) {
      children.push(
        await startApi({
          databaseUrl,
          dataDir: `${dataDir}-${name}`,
          poolSize: 0,
          port,
          env: { ...env, REPLICA_ID: `bench-${name}` },
        }),
      );
    }
    const one = await startFrontProxy({ upstreams: [`127.0.0.1:${PORTS.a}`] });
    const two = await startFrontProxy({ upstreams: [`127.0.0.1:${PORTS.a}`, `127.0.0.1:${PORTS.b}`] });
    proxies.push(one, two);
    const fronts = { one, two };
    const calls = { one: apiClient(one.port), two: apiClient(two.port) };
    const token = await newUser(calls.two);

    // ---- create → first full page, cold, alternating one replica / two replicas
    const creates = { one: [], two: [] };
    log(
      `replicas: create → first full page through the front proxy, one replica vs two, x${runs} each, alternating`,
    );
    for (let i = 0; i < runs; i++) {
      for (const side of i % 2 === 0 ? ['one', 'two'] : ['two', 'one']) {
        const t0 = Date.now();
        const created = await calls[side]('POST', '/workspace/create', { token, body: {} });
        if (created.status !== 201)
          throw new Error(`create through ${side}: ${created.status} ${created.raw?.toString() ?? ''}`);
        const url = new URL(created.body.previewUrl);
        url.port = String(fronts[side].port);
        await waitForFullPage(url.toString(), 180_000);
        creates[side].push(Date.now() - t0);
        await calls[side]('DELETE', `/workspace/${created.body.id}`, { token });
      }
    }

    // ---- one running session for the rest, started (and relayed) by replica A
    const { session } = await createToFirstPage(token, { call: apiClient(PORTS.a) });
    const statusPath = `/api/v1/workspace/${session.id}/status`;
    const throughput = { one: [], two: [] };
    const rounds = 5;
    log(
      `replicas: GET status through the front proxy, one replica vs two, ${rounds} rounds of ${loadSeconds} s each at ${loadConcurrency} connections`,
    );
    for (let i = 0; i < rounds; i++) {
      for (const side of i % 2 === 0 ? ['one', 'two'] : ['two', 'one']) {
        throughput[side].push(
          await load(`http://127.0.0.1:${fronts[side].port}${statusPath}`, {
            token,
            seconds: loadSeconds,
            concurrency: loadConcurrency,
          }),
        );
      }
    }

    // ---- hmr-update latency, the relay's replica (A) vs the other one (B)
    const sockets = {
      same: await subscribed(PORTS.a, token, session.id),
      other: await subscribed(PORTS.b, token, session.id),
    };
    const latency = { same: [], other: [] };
    const call = apiClient(PORTS.a);
    const original = (await call('GET', `/workspace/${session.id}/files/${PAGE}`, { token })).body.content;
    await httpGet(session.previewUrl); // the dev server holds the page's module: a change of it is an update
    log(`replicas: PUT → hmr-update at a socket on the relay's replica and on the other, x${hmrRuns}`);
    try {
      for (let i = 0; i < hmrRuns; i++) {
        const heard = Object.fromEntries(
          Object.entries(sockets).map(([side, socket]) => [side, nextUpdate(socket, PAGE)]),
        );
        const t0 = performance.now();
        const put = await call('PUT', `/workspace/${session.id}/files/${PAGE}`, {
          token,
          body: { content: original.replace(HERO, `${HERO} ${marker()}`) },
        });
        if (put.status !== 200) throw new Error(`PUT: ${put.status} ${JSON.stringify(put.body)}`);
        for (const side of Object.keys(sockets)) {
          const at = await heard[side];
          if (at !== null) latency[side].push(at - t0);
        }
        await httpGet(session.previewUrl);
        await sleep(500);
      }
    } finally {
      for (const socket of Object.values(sockets)) socket.disconnect();
    }
    await call('DELETE', `/workspace/${session.id}`, { token });

    const rps = (side) => median(throughput[side].map((r) => r.rps));
    const latencyP50 = (side) => median(throughput[side].map((r) => r.p50Ms));
    return {
      statusThroughput: {
        one: { rps: rps('one'), p50Ms: latencyP50('one'), rounds: throughput.one },
        two: { rps: rps('two'), p50Ms: latencyP50('two'), rounds: throughput.two },
        ratioTwoToOne: ratio(rps('two'), rps('one')),
      },
      createToFirstPage: {
        one: summary(creates.one),
        two: { ...summary(creates.two), ratioToOne: ratio(median(creates.two), median(creates.one)) },
      },
      hmrUpdateLatency: {
        same: summary(latency.same),
        other: { ...summary(latency.other), ratioToSame: ratio(median(latency.other), median(latency.same)) },
        missed: { same: hmrRuns - latency.same.length, other: hmrRuns - latency.other.length },
      },
    };
  } finally {
    for (const proxy of proxies) await proxy.close();
    for (const child of children) await stopProcess(child);
    await removeDatabase(databaseUrl.split('/').pop());
  }
}

async function subscribed(port, token, sessionId) {
  const socket = io(`http://127.0.0.1:${port}/workspace`, {
    transports: ['websocket'],
    auth: { token },
    reconnection: false,
    forceNew: true,
  });
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  const ack = await socket.timeout(10_000).emitWithAck('subscribe', { sessionId });
  if (!ack?.ok) throw new Error(`subscribe on ${port}: ${JSON.stringify(ack)}`);
  return socket;
}

/** The moment (performance.now()) the next `hmr-update` of `path` arrives, or null after 15 s. */
function nextUpdate(socket, path) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.off('hmr-update', on);
      resolve(null);
    }, 15_000);
    const on = (event) => {
      if (!event.paths.includes(path)) return;
      clearTimeout(timer);
      socket.off('hmr-update', on);
      resolve(performance.now());
    };
    socket.on('hmr-update', on);
  });
}

/** Lines of the results table. */
export function replicasMarkdown(r) {
  const f = (value, unit = ' ms') => (value === null || value === undefined ? 'n/a' : `${value}${unit}`);
  const x = (value) => (value === null || value === undefined ? 'n/a' : `${value}×`);
  const t = r.statusThroughput;
  const c = r.createToFirstPage;
  const h = r.hmrUpdateLatency;
  return [
    `| replicas: GET /workspace/:id/status through the front proxy, two replicas | ${f(t.two.rps, ' req/s')} (latency p50 ${f(t.two.p50Ms)}) | | one replica behind the same proxy ${f(t.one.rps, ' req/s')} | ${x(t.ratioTwoToOne)} |`,
    `| replicas: create → first full page (cold) through the front proxy, two replicas | ${f(c.two.p50)} | ${f(c.two.p95)} | one replica ${f(c.one.p50)} (p95 ${f(c.one.p95)}) | ${x(c.two.ratioToOne)} |`,
    `| replicas: PUT → \`hmr-update\` at a socket on the other replica than the relay's | ${f(h.other.p50)} | ${f(h.other.p95)} | socket on the relay's replica ${f(h.same.p50)} (p95 ${f(h.same.p95)}) | ${x(h.other.ratioToSame)} |`,
  ];
}

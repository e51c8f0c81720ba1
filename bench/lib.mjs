// Helpers of the benchmarks (run.mjs, swarm.mjs): figures, one-shot GETs of preview pages, an
// API client on a keep-alive connection, and bench databases on the local PostgreSQL.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

export const HERO = 'Build your landing page in minutes';
export const log = (...args) => console.log('[bench]', ...args);

export function quantile(values, q) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index];
}
export function median(values) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
export const summary = (values) => ({ n: values.length, p50: round(median(values)), p95: round(quantile(values, 0.95)), runs: values.map(round) });
export const round = (value) => (value === null || value === undefined ? null : Math.round(value * 10) / 10);
export const ratio = (value, floor) => (value && floor ? Math.round((value / floor) * 100) / 100 : null);
export const marker = () => `m${randomBytes(5).toString('hex')}`;

/**
 * One GET. A `*.localhost` host is dialled on 127.0.0.1 with the Host header kept (what Chromium
 * does), so the preview proxy's host names need no resolver.
 */
export function httpGet(url, { timeoutMs = 15_000, agent = false } = {}) {
  const target = new URL(url);
  const loopback = target.hostname.endsWith('.localhost') || target.hostname === 'localhost';
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: loopback ? '127.0.0.1' : target.hostname,
        port: target.port || 80,
        path: target.pathname + target.search,
        headers: { host: target.host, accept: 'text/html' },
        agent,
      },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (error) => resolve({ status: null, error: error.message }));
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', (error) => resolve({ status: null, error: error.code ?? error.message }));
    req.end();
  });
}

/** Polls until the page answers 200 with the whole landing page; answers the time it did. */
export async function waitForFullPage(url, deadlineMs, intervalMs = 20) {
  const deadline = Date.now() + deadlineMs;
  let last = '';
  while (Date.now() < deadline) {
    const res = await httpGet(url, { timeoutMs: Math.max(1, deadline - Date.now()) });
    if (res.status === 200 && res.body.includes(HERO) && res.body.includes('</html>')) return Date.now();
    last = res.status ? `HTTP ${res.status}` : res.error;
    await sleep(intervalMs);
  }
  throw new Error(`${url} did not serve the full page within ${deadlineMs} ms (last: ${last})`);
}

/**
 * A client of the API on 127.0.0.1:`port`, one call at a time on a keep-alive connection, as a
 * browser or a backend client keeps one: an edit's latency then holds the API's work, not a TCP
 * handshake or a heavyweight client. `destroy()` closes its idle connections.
 */
export function apiClient(port) {
  // Idle sockets are closed before the API's keep-alive timeout (Node's 5 s) could close one under a request.
  const agent = new http.Agent({ keepAlive: true, timeout: 4_000 });
  function once(method, path, { token, body } = {}) {
    const headers = {};
    if (token) headers.authorization = `Bearer ${token}`;
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    if (data) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(data.length);
    }
    const fullPath = `${path.startsWith('/health') ? '' : '/api/v1'}${path}`;
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method, path: fullPath, headers, agent }, (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = text;
          }
          resolve({ status: res.statusCode, body: json });
        });
      });
      req.setTimeout(60_000, () => req.destroy(new Error(`${method} ${path}: no answer within 60 s`)));
      req.on('error', (error) => reject(Object.assign(error, { reusedSocket: req.reusedSocket })));
      req.end(data);
    });
  }
  async function api(method, path, options = {}) {
    try {
      return await once(method, path, options);
    } catch (error) {
      // A kept socket the server closed as it was reused: the request never reached the API.
      if (error.reusedSocket && error.code === 'ECONNRESET') return once(method, path, options);
      throw error;
    }
  }
  return { api, destroy: () => agent.destroy() };
}

/** A new user of the API behind `api`; answers its token. */
export async function newUser(api) {
  const email = `bench-${Date.now()}-${randomBytes(3).toString('hex')}@example.com`;
  const res = await api('POST', '/auth/register', { body: { email, password: 'bench password 123' } });
  if (res.status !== 201) throw new Error(`register: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.accessToken;
}

/** POST create → first 200 with the full page at the preview URL (the proxy's host name). */
export async function createToFirstPage(api, token) {
  const t0 = Date.now();
  const created = await api('POST', '/workspace/create', { token, body: {} });
  if (created.status !== 201) throw new Error(`create: ${created.status} ${JSON.stringify(created.body)}`);
  const answeredMs = Date.now() - t0;
  const session = created.body;
  // A queued/creating session has no preview yet: the proxy answers an error until it runs.
  const servedAt = await waitForFullPage(session.previewUrl, 180_000);
  return { session, ms: servedAt - t0, answeredMs, fromPool: session.status === 'running' };
}

/**
 * `n` concurrent creates, each followed to its first full page. Each session's own start is timed
 * from when it left the queue (its build step is no longer `queued`) to that page; the rest is its
 * wait in line. Answers the sessions (still running: the caller deletes them) and both timings.
 */
export async function concurrentCreates(api, token, n, deadlineMs = 900_000) {
  const t0 = Date.now();
  const created = await Promise.all(Array.from({ length: n }, () => api('POST', '/workspace/create', { token, body: {} })));
  const sessions = created.filter((c) => c.status === 201).map((c) => c.body);
  const own = [];
  const total = [];
  await Promise.all(
    sessions.map(async (session) => {
      let leftQueueAt = session.buildStep === 'queued' ? null : t0;
      const deadline = Date.now() + deadlineMs;
      while (Date.now() < deadline) {
        if (leftQueueAt === null) {
          const status = await api('GET', `/workspace/${session.id}/status`, { token });
          if (status.body?.buildStep !== 'queued') leftQueueAt = Date.now();
        }
        const res = await httpGet(session.previewUrl, { timeoutMs: 20_000 });
        if (res.status === 200 && res.body.includes('</html>')) {
          total.push(Date.now() - t0);
          own.push(Date.now() - (leftQueueAt ?? t0));
          return;
        }
        await sleep(100);
      }
    }),
  );
  return { sessions, own, total };
}

/** Polls until the pool of the API on `databaseUrl` holds `size` running workspaces. */
export async function waitForPoolFull(databaseUrl, size, timeoutMs = 120_000) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const { rows } = await client.query(
        `SELECT count(*)::int AS n FROM workspace_sessions s JOIN users u ON u.id = s.user_id
          WHERE u.email = 'warm-pool@system.invalid' AND s.status = 'running'`,
      );
      if (rows[0].n >= size) return true;
      await sleep(250);
    }
    return false;
  } finally {
    await client.end();
  }
}

/** A fresh database on the PostgreSQL of `adminUrl`; answers its name and URL. */
export async function createBenchDatabase(adminUrl) {
  const name = `builder_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { name, url: url.toString() };
}

export async function dropBenchDatabase(adminUrl, name) {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}

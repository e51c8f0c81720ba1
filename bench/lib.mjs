/**
 * What the benchmark scripts share: the system under test (API processes, databases, a workspace
 * through the REST API), loopback HTTP, Chromium pages that time when a text appears, the host
 * `astro dev` floor, statistics, and a clean-up registry that removes everything they start.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const TEMPLATE_DIR = join(ROOT, 'workspace-templates/baseline-landing');
export const RESULTS_DIR = join(ROOT, 'bench/results');
export const HERO = 'Build your landing page in minutes';
export const API_PORT = Number(process.env.BENCH_API_PORT ?? 3100);
export const HOST_ASTRO_PORT = 8601; // outside the API's 8500-8600
export const ADMIN_DB = process.env.BENCH_DATABASE_URL ?? 'postgres://builder:builder@127.0.0.1:5432/builder';
export const DOCKER_SOCKET = process.env.DOCKER_SOCKET ?? '/var/run/docker.sock';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// ------------------------------------------------------------------ small helpers

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

/**
 * Polls until the page answers 200 with the whole page holding `contains` (default: the template's
 * hero text); answers the time it did.
 */
export async function waitForFullPage(url, deadlineMs, intervalMs = 20, contains = HERO) {
  const deadline = Date.now() + deadlineMs;
  let last = '';
  while (Date.now() < deadline) {
    const res = await httpGet(url, { timeoutMs: Math.max(1, deadline - Date.now()) });
    if (res.status === 200 && res.body.includes(contains) && res.body.includes('</html>')) return Date.now();
    last = res.status ? `HTTP ${res.status}` : res.error;
    await sleep(intervalMs);
  }
  throw new Error(`${url} did not serve the full page within ${deadlineMs} ms (last: ${last})`);
}

/** Keep-alive agents of every API client, closed by the clean-up. */
const apiAgents = new Set();

/**
 * API calls to the API on `port`, each on a kept connection, as a browser or a backend client keeps
 * one: an edit's latency then holds the API's work, not a TCP handshake or a heavyweight client.
 */
export function apiClient(port) {
  // Idle sockets are closed before the API's keep-alive timeout (Node's 5 s) could close one under a request.
  const agent = new http.Agent({ keepAlive: true, timeout: 4_000 });
  apiAgents.add(agent);
  const once = (method, path, { token, body } = {}) => {
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
          const raw = Buffer.concat(chunks);
          const text = raw.toString('utf8');
          let json;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = text;
          }
          resolve({ status: res.statusCode, body: json, raw });
        });
      });
      req.setTimeout(60_000, () => req.destroy(new Error(`${method} ${path}: no answer within 60 s`)));
      req.on('error', (error) => reject(Object.assign(error, { reusedSocket: req.reusedSocket })));
      req.end(data);
    });
  };
  return async (method, path, options = {}) => {
    try {
      return await once(method, path, options);
    } catch (error) {
      // A kept socket the server closed as it was reused: the request never reached the API.
      if (error.reusedSocket && error.code === 'ECONNRESET') return once(method, path, options);
      throw error;
    }
  };
}

/** The API under test on API_PORT. */
export const api = apiClient(API_PORT);

/** A Docker Engine API call over its socket (no CLI, no dependency). */
export function dockerApi(method, path) {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: DOCKER_SOCKET, path, method }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode, body: text ? safeJson(text) : null });
      });
    });
    req.setTimeout(30_000, () => req.destroy(new Error('docker timeout')));
    req.on('error', reject);
    req.end();
  });
}
export const safeJson = (text) => {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};

/** Memory of a container as `docker stats` shows it: usage without the page cache. */
export async function containerMemoryMiB(containerId) {
  return (await containerMemory(containerId))?.usageMiB ?? null;
}

/**
 * `usageMiB`: what `docker stats` shows (usage less inactive page cache; it still holds active
 * page cache and kernel memory such as dentries, reclaimable and partly shared between
 * workspaces). `anonMiB`: the container's anonymous memory, which is its own and never reclaimed.
 */
export async function containerMemory(containerId) {
  const { body } = await dockerApi('GET', `/containers/${containerId}/stats?stream=false`);
  const stats = body?.memory_stats;
  if (!stats?.usage) return null;
  const cache = stats.stats?.inactive_file ?? stats.stats?.total_inactive_file ?? stats.stats?.cache ?? 0;
  const anon = stats.stats?.total_rss ?? stats.stats?.anon ?? null;
  return { usageMiB: round((stats.usage - cache) / 1024 / 1024), anonMiB: anon === null ? null : round(anon / 1024 / 1024) };
}

/** The host's MemAvailable, in MiB. */
export function hostAvailableMiB() {
  const line = readFileSync('/proc/meminfo', 'utf8').split('\n').find((l) => l.startsWith('MemAvailable:'));
  return line ? round(Number(line.split(/\s+/)[1]) / 1024) : null;
}

/** RSS of a process and its descendants (the host astro and its esbuild), in MiB. */
export function treeRssMiB(pid) {
  const ps = spawnSync('ps', ['-e', '-o', 'pid=,ppid=,rss='], { encoding: 'utf8' });
  const rows = ps.stdout.trim().split('\n').map((line) => line.trim().split(/\s+/).map(Number));
  const tree = new Set([pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [p, pp] of rows) if (tree.has(pp) && !tree.has(p)) (tree.add(p), (grew = true));
  }
  const kib = rows.filter(([p]) => tree.has(p)).reduce((sum, [, , rss]) => sum + rss, 0);
  return round(kib / 1024);
}

// ------------------------------------------------------------------ load generator

/** Fixed concurrency, fixed duration, keep-alive: requests per second and latency percentiles. */
export async function load(url, { token, seconds, concurrency }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const target = new URL(url);
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  const end = Date.now() + seconds * 1000;
  const latencies = [];
  let ok = 0;
  let failed = 0;
  const one = () =>
    new Promise((resolve) => {
      const t0 = performance.now();
      const req = http.request({ host: target.hostname, port: target.port, path: target.pathname, agent, headers }, (res) => {
        res.resume();
        res.on('end', () => {
          latencies.push(performance.now() - t0);
          if (res.statusCode === 200) ok++;
          else failed++;
          resolve();
        });
      });
      req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
      req.on('error', () => {
        failed++;
        resolve();
      });
      req.end();
    });
  const startedAt = Date.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) await one();
    }),
  );
  const elapsed = (Date.now() - startedAt) / 1000;
  agent.destroy();
  return { rps: Math.round(ok / elapsed), ok, failed, p50Ms: round(median(latencies)), p95Ms: round(quantile(latencies, 0.95)) };
}

// ------------------------------------------------------------------ cleanup registry

export const cleanup = {
  /** A bench's own clean-ups (a swarm it made), run first: what they stop may use the rest. */
  tasks: [],
  processes: new Set(),
  dirs: new Set(),
  databases: new Set(),
  browser: null,
};
let cleaningUp = null;

export async function cleanUpEverything() {
  cleaningUp ??= (async () => {
    if (cleanup.browser) await cleanup.browser.close().catch(() => undefined);
    for (const task of cleanup.tasks) await task().catch((error) => log(`cleanup: ${error.message}`));
    for (const agent of apiAgents) agent.destroy();
    for (const child of cleanup.processes) await stopProcess(child);
    for (const name of cleanup.databases) await removeDatabase(name);
    for (const dir of cleanup.dirs) rmSync(dir, { recursive: true, force: true });
  })();
  return cleaningUp;
}

export async function stopProcess(child, timeoutMs = 20_000) {
  if (child.exitCode !== null || child.signalCode !== null) {
    cleanup.processes.delete(child);
    return;
  }
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    process.kill(-child.pid, 'SIGTERM'); // its own process group: astro's esbuild goes too
  } catch {
    child.kill('SIGTERM');
  }
  const timer = sleep(timeoutMs).then(() => 'timeout');
  if ((await Promise.race([exited, timer])) === 'timeout') {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
    await exited;
  }
  cleanup.processes.delete(child);
}

/** Removes every container and volume of the sessions of a bench database, then the database. */
export async function removeDatabase(name) {
  const url = new URL(ADMIN_DB);
  url.pathname = `/${name}`;
  try {
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    const ids = (await client.query(`SELECT id FROM workspace_sessions`).catch(() => ({ rows: [] }))).rows.map((r) => r.id);
    await client.end();
    await removeDockerLeftovers(new Set(ids));
  } catch (error) {
    log(`cleanup: reading ${name} failed: ${error.message}`);
  }
  const admin = new pg.Client({ connectionString: ADMIN_DB });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
  cleanup.databases.delete(name);
}

export async function removeDockerLeftovers(sessionIds) {
  if (sessionIds.size === 0) return;
  const label = encodeURIComponent(JSON.stringify({ label: ['dev.builder.session-id'] }));
  const { body: containers } = await dockerApi('GET', `/containers/json?all=1&filters=${label}`);
  let removed = 0;
  for (const c of containers ?? []) {
    if (!sessionIds.has(c.Labels?.['dev.builder.session-id'])) continue;
    await dockerApi('DELETE', `/containers/${c.Id}?force=1&v=1`);
    removed++;
  }
  const { body: volumes } = await dockerApi('GET', `/volumes?filters=${label}`);
  for (const v of volumes?.Volumes ?? []) {
    if (sessionIds.has(v.Labels?.['dev.builder.session-id'])) await dockerApi('DELETE', `/volumes/${v.Name}?force=1`);
  }
  // A volume's own file system (the kernel-enforced storage limit): a loop device backed by
  // <sessionId>.ext4 under the API's DATA_DIR. Detached here; the image goes with the temp folder.
  for (const name of readdirSync('/sys/block').filter((n) => /^loop\d+$/.test(n))) {
    let backing;
    try {
      backing = readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8').trim().replace(/ \(deleted\)$/, '');
    } catch {
      continue; // not attached
    }
    if (!sessionIds.has(basename(backing).replace(/\.ext4$/, ''))) continue;
    spawnSync('losetup', ['--detach', `/dev/${name}`]);
    rmSync(backing, { force: true });
  }
  if (removed > 0) log(`cleanup: removed ${removed} leftover container(s)`);
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    log(`${signal}: cleaning up`);
    void cleanUpEverything().finally(() => process.exit(130));
  });
}

// ------------------------------------------------------------------ the system under test

export async function createDatabase() {
  const name = `builder_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_DB });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  cleanup.databases.add(name);
  const url = new URL(ADMIN_DB);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * Starts the built API on `port` (default API_PORT) with the docker runtime, the preview proxy and
 * its own database and data folder; `env` adds or overrides variables (an object store, a port range).
 * Its log goes nowhere unless BENCH_API_LOG names a file (at BENCH_LOG_LEVEL, default warn).
 */
export async function startApi({ databaseUrl, dataDir, poolSize, port = API_PORT, env: extra = {} }) {
  const env = {
    ...process.env,
    NODE_ENV: 'development',
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
    PORT: String(port),
    RUNTIME: 'docker',
    DATA_DIR: dataDir,
    DATABASE_URL: databaseUrl,
    JWT_SECRET: randomBytes(32).toString('hex'),
    PORT_RANGE_START: '8500',
    PORT_RANGE_END: '8600',
    PREVIEW_MODE: 'proxy',
    PREVIEW_HOST: '127.0.0.1',
    WARM_POOL_SIZE: String(poolSize),
    MAX_SESSIONS_PER_USER: '200',
    ...extra,
  };
  const child = spawn(process.execPath, [join(ROOT, 'packages/nest/dist/main.js')], {
    cwd: ROOT,
    env,
    stdio: ['ignore', process.env.BENCH_API_LOG ? openSync(process.env.BENCH_API_LOG, 'a') : 'ignore', 'pipe'],
    detached: true,
  });
  cleanup.processes.add(child);
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the API exited (${child.exitCode}): ${stderr}`);
    const res = await httpGet(`http://127.0.0.1:${port}/health`, { timeoutMs: 1000 });
    if (res.status === 200) return child;
    await sleep(100);
  }
  throw new Error(`the API did not answer /health within 60 s: ${stderr}`);
}

export async function newUser(call = api) {
  const email = `bench-${Date.now()}-${randomBytes(3).toString('hex')}@example.com`;
  const res = await call('POST', '/auth/register', { body: { email, password: 'bench password 123' } });
  if (res.status !== 201) throw new Error(`register: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.accessToken;
}

/**
 * POST create (of `body`, e.g. an existing project) → first 200 with the full page holding
 * `contains` at the preview URL (the proxy's host name).
 */
export async function createToFirstPage(token, { call = api, body = {}, contains = HERO } = {}) {
  const t0 = Date.now();
  const created = await call('POST', '/workspace/create', { token, body });
  if (created.status !== 201) throw new Error(`create: ${created.status} ${JSON.stringify(created.body)}`);
  const answeredMs = Date.now() - t0;
  const session = created.body;
  // A queued/creating session has no preview yet: the proxy answers an error until it runs.
  const servedAt = await waitForFullPage(session.previewUrl, 180_000, 20, contains);
  return { session, ms: servedAt - t0, answeredMs, fromPool: session.status === 'running' };
}

/**
 * `n` concurrent creates, each followed to its first full page. Each session's own start is timed
 * from when it left the queue (its build step is no longer `queued`) to that page; the rest is its
 * wait in line. Answers the sessions (still running: the caller deletes them) and both timings.
 */
export async function concurrentCreates(token, n, { call = api, deadlineMs = 900_000 } = {}) {
  const t0 = Date.now();
  const created = await Promise.all(Array.from({ length: n }, () => call('POST', '/workspace/create', { token, body: {} })));
  const sessions = created.filter((c) => c.status === 201).map((c) => c.body);
  const own = [];
  const total = [];
  await Promise.all(
    sessions.map(async (session) => {
      let leftQueueAt = session.buildStep === 'queued' ? null : t0;
      const deadline = Date.now() + deadlineMs;
      while (Date.now() < deadline) {
        if (leftQueueAt === null) {
          const status = await call('GET', `/workspace/${session.id}/status`, { token });
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

export async function containerIdOf(databaseUrl, sessionId) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query(`SELECT container_id FROM workspace_sessions WHERE id = $1`, [sessionId])).rows[0]?.container_id ?? null;
  } finally {
    await client.end();
  }
}

// ------------------------------------------------------------------ the floor: plain host astro dev

export function freshTemplateCopy() {
  const dir = mkdtempSync(join(tmpdir(), 'bench-astro-'));
  cleanup.dirs.add(dir);
  for (const entry of ['astro.config.mjs', 'tailwind.config.mjs', 'tsconfig.json', 'package.json', 'src', 'public']) {
    cpSync(join(TEMPLATE_DIR, entry), join(dir, entry), { recursive: true });
  }
  symlinkSync(join(TEMPLATE_DIR, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

export function spawnHostAstro(dir) {
  const child = spawn(process.execPath, ['node_modules/astro/astro.js', 'dev', '--host', '127.0.0.1', '--port', String(HOST_ASTRO_PORT)], {
    cwd: dir,
    env: {
      ...process.env,
      ASTRO_TELEMETRY_DISABLED: '1',
      ASTRO_DISABLE_UPDATE_CHECK: 'true',
      NODE_ENV: 'development',
      VITE_CACHE_DIR: join(dir, '.vite'),
    },
    stdio: 'ignore',
    detached: true,
  });
  cleanup.processes.add(child);
  return child;
}

export async function hostAstroColdStart() {
  const dir = freshTemplateCopy();
  const t0 = Date.now();
  const child = spawnHostAstro(dir);
  const at = await waitForFullPage(`http://127.0.0.1:${HOST_ASTRO_PORT}/`, 60_000);
  return { child, dir, ms: at - t0 };
}

// ------------------------------------------------------------------ HMR in Chromium

/**
 * Records, in sessionStorage (it survives the full reload of a markup edit), the wall-clock time
 * at which the current marker first appears in the document, styles included.
 */
export const DETECTOR = `(() => {
  const check = () => {
    const m = sessionStorage.getItem('bench-marker');
    if (!m || sessionStorage.getItem('bench-seen-' + m)) return;
    const root = document.documentElement;
    if (root && root.innerHTML.includes(m)) sessionStorage.setItem('bench-seen-' + m, String(Date.now()));
  };
  new MutationObserver(check).observe(document, { childList: true, subtree: true, characterData: true });
  document.addEventListener('DOMContentLoaded', check);
})();`;

export async function openPage(browser, url) {
  const context = await browser.newContext();
  await context.addInitScript(DETECTOR);
  const page = await context.newPage();
  await page.goto(url, { waitUntil: 'load', timeout: 60_000 });
  // The Vite client connects its HMR socket after load.
  await page.waitForFunction(() => document.querySelector('script[src*="@vite/client"]') !== null, null, { timeout: 10_000 });
  await sleep(1000);
  return { context, page };
}

export async function seenAt(page, m, deadlineMs = 15_000) {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    const value = await page.evaluate((key) => sessionStorage.getItem('bench-seen-' + key), m).catch(() => null);
    if (value) return Number(value);
    await sleep(5);
  }
  return null;
}


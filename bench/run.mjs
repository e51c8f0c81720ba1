#!/usr/bin/env node
/**
 * Benchmark of the real system against the floor measured in the same run on the same machine.
 *
 *   npm run bench                      # defaults: --runs 5 --hmr-runs 5
 *   npm run bench -- --runs 3 --hmr-runs 3 --no-build
 *   npm run bench -- --capacity --capacity-max 30
 *   npm run bench -- --burst 20         # also: 20 concurrent cold creates through the start queue
 *
 * Starts the built API (node packages/nest/dist/main.js, RUNTIME=docker, its own database on the
 * local PostgreSQL, PORT 3100, ports 8500-8600, PREVIEW_MODE=proxy) and a plain host `astro dev`
 * for the floors; prints and writes bench/results/latest.{json,md}. Medians and ratios only, never
 * asserts. Each floor is measured alongside what it is the floor of, alternating run by run (host
 * start / cold create, host write / API edit on the direct port / through the proxy), so a busy
 * moment of the machine weighs on both sides of a ratio. Everything it starts (API, astro, containers, volumes, database, temp folders) is
 * stopped and removed at the end, also on failure or Ctrl-C. Traffic goes to loopback only.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { cpus, tmpdir, totalmem } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { chromium } from 'playwright-core';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const TEMPLATE_DIR = join(ROOT, 'workspace-templates/baseline-landing');
const RESULTS_DIR = join(ROOT, 'bench/results');
const HERO = 'Build your landing page in minutes';
const API_PORT = Number(process.env.BENCH_API_PORT ?? 3100);
const HOST_ASTRO_PORT = 8601; // outside the API's 8500-8600
const ADMIN_DB = process.env.BENCH_DATABASE_URL ?? 'postgres://builder:builder@127.0.0.1:5432/builder';
const DOCKER_SOCKET = process.env.DOCKER_SOCKET ?? '/var/run/docker.sock';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// ------------------------------------------------------------------ flags

function parseFlags(argv) {
  const flags = { runs: 5, hmrRuns: 5, build: true, capacity: false, capacityMax: 30, capacityBudgetMs: 30_000, loadSeconds: 5, loadConcurrency: 16, poolSize: 2, burst: 0 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const next = () => Number(argv[++i]);
    if (arg === '--runs') flags.runs = next();
    else if (arg === '--hmr-runs') flags.hmrRuns = next();
    else if (arg === '--no-build') flags.build = false;
    else if (arg === '--capacity') flags.capacity = true;
    else if (arg === '--capacity-max') flags.capacityMax = next();
    else if (arg === '--capacity-budget-ms') flags.capacityBudgetMs = next();
    else if (arg === '--load-seconds') flags.loadSeconds = next();
    else if (arg === '--load-concurrency') flags.loadConcurrency = next();
    else if (arg === '--pool-size') flags.poolSize = next();
    else if (arg === '--burst') flags.burst = next();
    else if (arg === '--help' || arg === '-h') {
      console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 14).join('\n'));
      process.exit(0);
    } else throw new Error(`unknown flag ${arg}`);
  }
  for (const [key, value] of Object.entries(flags)) {
    if (typeof value === 'number' && !(Number.isFinite(value) && value >= 0)) throw new Error(`--${key}: not a number`);
  }
  flags.runs = Math.min(Math.max(1, flags.runs), 50);
  flags.hmrRuns = Math.min(Math.max(1, flags.hmrRuns), 50);
  flags.capacityMax = Math.min(flags.capacityMax, 101);
  flags.burst = Math.min(flags.burst, 50);
  return flags;
}

// ------------------------------------------------------------------ small helpers

const log = (...args) => console.log('[bench]', ...args);

function quantile(values, q) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index];
}
function median(values) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
const summary = (values) => ({ n: values.length, p50: round(median(values)), p95: round(quantile(values, 0.95)), runs: values.map(round) });
const round = (value) => (value === null || value === undefined ? null : Math.round(value * 10) / 10);
const ratio = (value, floor) => (value && floor ? Math.round((value / floor) * 100) / 100 : null);
const marker = () => `m${randomBytes(5).toString('hex')}`;

/**
 * One GET. A `*.localhost` host is dialled on 127.0.0.1 with the Host header kept (what Chromium
 * does), so the preview proxy's host names need no resolver.
 */
function httpGet(url, { timeoutMs = 15_000, agent = false } = {}) {
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
async function waitForFullPage(url, deadlineMs, intervalMs = 20) {
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
 * One API call on a keep-alive connection, as a browser or a backend client keeps one: an edit's
 * latency then holds the API's work, not a TCP handshake or a heavyweight client.
 */
// Idle sockets are closed before the API's keep-alive timeout (Node's 5 s) could close one under a request.
const apiAgent = new http.Agent({ keepAlive: true, timeout: 4_000 });
async function api(method, path, options = {}) {
  try {
    return await apiOnce(method, path, options);
  } catch (error) {
    // A kept socket the server closed as it was reused: the request never reached the API.
    if (error.reusedSocket && error.code === 'ECONNRESET') return apiOnce(method, path, options);
    throw error;
  }
}
function apiOnce(method, path, { token, body } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  if (data) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(data.length);
  }
  const fullPath = `${path.startsWith('/health') ? '' : '/api/v1'}${path}`;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: API_PORT, method, path: fullPath, headers, agent: apiAgent }, (res) => {
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

/** A Docker Engine API call over its socket (no CLI, no dependency). */
function dockerApi(method, path) {
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
const safeJson = (text) => {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};

/** Memory of a container as `docker stats` shows it: usage without the page cache. */
async function containerMemoryMiB(containerId) {
  return (await containerMemory(containerId))?.usageMiB ?? null;
}

/**
 * `usageMiB`: what `docker stats` shows (usage less inactive page cache; it still holds active
 * page cache and kernel memory such as dentries, reclaimable and partly shared between
 * workspaces). `anonMiB`: the container's anonymous memory, which is its own and never reclaimed.
 */
async function containerMemory(containerId) {
  const { body } = await dockerApi('GET', `/containers/${containerId}/stats?stream=false`);
  const stats = body?.memory_stats;
  if (!stats?.usage) return null;
  const cache = stats.stats?.inactive_file ?? stats.stats?.total_inactive_file ?? stats.stats?.cache ?? 0;
  const anon = stats.stats?.total_rss ?? stats.stats?.anon ?? null;
  return { usageMiB: round((stats.usage - cache) / 1024 / 1024), anonMiB: anon === null ? null : round(anon / 1024 / 1024) };
}

/** The host's MemAvailable, in MiB. */
function hostAvailableMiB() {
  const line = readFileSync('/proc/meminfo', 'utf8').split('\n').find((l) => l.startsWith('MemAvailable:'));
  return line ? round(Number(line.split(/\s+/)[1]) / 1024) : null;
}

/** RSS of a process and its descendants (the host astro and its esbuild), in MiB. */
function treeRssMiB(pid) {
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

// ------------------------------------------------------------------ cleanup registry

const cleanup = {
  processes: new Set(),
  dirs: new Set(),
  databases: new Set(),
  browser: null,
};
let cleaningUp = null;

async function cleanUpEverything() {
  cleaningUp ??= (async () => {
    if (cleanup.browser) await cleanup.browser.close().catch(() => undefined);
    apiAgent.destroy();
    for (const child of cleanup.processes) await stopProcess(child);
    for (const name of cleanup.databases) await removeDatabase(name);
    for (const dir of cleanup.dirs) rmSync(dir, { recursive: true, force: true });
  })();
  return cleaningUp;
}

async function stopProcess(child, timeoutMs = 20_000) {
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
async function removeDatabase(name) {
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

async function removeDockerLeftovers(sessionIds) {
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

async function createDatabase() {
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

async function startApi({ databaseUrl, dataDir, poolSize }) {
  const env = {
    ...process.env,
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    PORT: String(API_PORT),
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
  };
  const child = spawn(process.execPath, [join(ROOT, 'packages/nest/dist/main.js')], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
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
    const res = await httpGet(`http://127.0.0.1:${API_PORT}/health`, { timeoutMs: 1000 });
    if (res.status === 200) return child;
    await sleep(100);
  }
  throw new Error(`the API did not answer /health within 60 s: ${stderr}`);
}

async function newUser() {
  const email = `bench-${Date.now()}-${randomBytes(3).toString('hex')}@example.com`;
  const res = await api('POST', '/auth/register', { body: { email, password: 'bench password 123' } });
  if (res.status !== 201) throw new Error(`register: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.accessToken;
}

/** POST create → first 200 with the full page at the preview URL (the proxy's host name). */
async function createToFirstPage(token) {
  const t0 = Date.now();
  const created = await api('POST', '/workspace/create', { token, body: {} });
  if (created.status !== 201) throw new Error(`create: ${created.status} ${JSON.stringify(created.body)}`);
  const answeredMs = Date.now() - t0;
  const session = created.body;
  // A queued/creating session has no preview yet: the proxy answers an error until it runs.
  const servedAt = await waitForFullPage(session.previewUrl, 180_000);
  return { session, ms: servedAt - t0, answeredMs, fromPool: session.status === 'running' };
}

async function waitForPoolFull(databaseUrl, size, timeoutMs = 120_000) {
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

async function containerIdOf(databaseUrl, sessionId) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query(`SELECT container_id FROM workspace_sessions WHERE id = $1`, [sessionId])).rows[0]?.container_id ?? null;
  } finally {
    await client.end();
  }
}

// ------------------------------------------------------------------ the floor: plain host astro dev

function freshTemplateCopy() {
  const dir = mkdtempSync(join(tmpdir(), 'bench-astro-'));
  cleanup.dirs.add(dir);
  for (const entry of ['astro.config.mjs', 'tailwind.config.mjs', 'tsconfig.json', 'package.json', 'src', 'public']) {
    cpSync(join(TEMPLATE_DIR, entry), join(dir, entry), { recursive: true });
  }
  symlinkSync(join(TEMPLATE_DIR, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

function spawnHostAstro(dir) {
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

async function hostAstroColdStart() {
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
const DETECTOR = `(() => {
  const check = () => {
    const m = sessionStorage.getItem('bench-marker');
    if (!m || sessionStorage.getItem('bench-seen-' + m)) return;
    const root = document.documentElement;
    if (root && root.innerHTML.includes(m)) sessionStorage.setItem('bench-seen-' + m, String(Date.now()));
  };
  new MutationObserver(check).observe(document, { childList: true, subtree: true, characterData: true });
  document.addEventListener('DOMContentLoaded', check);
})();`;

async function openPage(browser, url) {
  const context = await browser.newContext();
  await context.addInitScript(DETECTOR);
  const page = await context.newPage();
  await page.goto(url, { waitUntil: 'load', timeout: 60_000 });
  // The Vite client connects its HMR socket after load.
  await page.waitForFunction(() => document.querySelector('script[src*="@vite/client"]') !== null, null, { timeout: 10_000 });
  await sleep(1000);
  return { context, page };
}

async function seenAt(page, m, deadlineMs = 15_000) {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    const value = await page.evaluate((key) => sessionStorage.getItem('bench-seen-' + key), m).catch(() => null);
    if (value) return Number(value);
    await sleep(5);
  }
  return null;
}

const EDITS = {
  markup: {
    file: 'src/pages/index.astro',
    apply: (original, m) => original.replace(HERO, `${HERO} ${m}`),
  },
  cssFile: {
    file: 'src/styles/theme.css',
    apply: (original, m) => `${original}\n.${m} { color: rgb(1 2 3); }\n`,
  },
  styleBlock: {
    file: 'src/pages/index.astro',
    apply: (original, m) => original.replace('#counter {', `#counter, .${m} {`),
  },
};

/**
 * Each edit kind `runs` times on every target in turn (the host floor, the direct port, the
 * preview proxy), so the floor and the system are measured at the same moments of a noisy machine
 * rather than one after the other. Each target has its own dev server, so an edit reaches one page.
 * A target: { name, page, originals, write(file, content) }. Answers { [name]: { [kind]: ms[] } }.
 */
async function measureHmr(targets, runs) {
  const results = Object.fromEntries(targets.map((target) => [target.name, {}]));
  for (const [kind, edit] of Object.entries(EDITS)) {
    for (const target of targets) results[target.name][kind] = [];
    for (let i = 0; i < runs; i++) {
      for (const target of targets) {
        const m = marker();
        await target.page.evaluate((value) => sessionStorage.setItem('bench-marker', value), m);
        const t0 = Date.now();
        await target.write(edit.file, edit.apply(target.originals[edit.file], m));
        const at = await seenAt(target.page, m);
        if (at !== null) results[target.name][kind].push(Math.max(0, at - t0));
        else log(`hmr ${kind} (${target.name}): marker not seen within 15 s`);
        await sleep(400); // let the dev server settle between edits
      }
    }
    for (const target of targets) await target.write(edit.file, target.originals[edit.file]);
    await sleep(kind === 'cssFile' ? 500 : 1500);
  }
  return results;
}

// ------------------------------------------------------------------ load generator

/** Fixed concurrency, fixed duration, keep-alive: requests per second and latency percentiles. */
async function load(url, { token, seconds, concurrency }) {
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

// ------------------------------------------------------------------ burst

/**
 * `n` concurrent creates. Each session's own start is timed from when it left the queue (its
 * build step is no longer `queued`) to its first full page; the rest is its wait in line.
 */
async function runBurst(n, token) {
  const t0 = Date.now();
  const created = await Promise.all(Array.from({ length: n }, () => api('POST', '/workspace/create', { token, body: {} })));
  const sessions = created.filter((c) => c.status === 201).map((c) => c.body);
  const own = [];
  const total = [];
  await Promise.all(
    sessions.map(async (session) => {
      let leftQueueAt = session.buildStep === 'queued' ? null : t0;
      const deadline = Date.now() + 600_000;
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
  for (const session of sessions) await api('DELETE', `/workspace/${session.id}`, { token });
  return { n, accepted: sessions.length, served: total.length, createToPageMs: summary(total), ownStartMs: summary(own) };
}

// ------------------------------------------------------------------ main

async function main() {
  const flags = parseFlags(process.argv.slice(2));
  const results = {
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: round(totalmem() / 2 ** 30) },
    flags,
  };
  if (flags.build) {
    log('building the API (npm run build)');
    const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
    if (build.status !== 0) throw new Error('npm run build failed');
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-data-'));
  cleanup.dirs.add(dataDir);

  // ---- phase 1: the API without a pool (cold creates, HMR, memory, API overhead, capacity), with
  // the floors measured alongside: each host `astro dev` start next to a cold create, each host
  // file write next to the API's edits, alternating, so both see the same state of the machine.
  const coldDb = await createDatabase();
  log('starting the API (WARM_POOL_SIZE=0)');
  let apiProcess = await startApi({ databaseUrl: coldDb, dataDir: join(dataDir, 'cold'), poolSize: 0 });
  const token = await newUser();

  log(`cold create → first full page and host astro dev start (the floor), alternating, x${flags.runs}`);
  const hostStarts = [];
  const cold = [];
  const coldAnswered = [];
  const hostRun = async () => {
    const run = await hostAstroColdStart();
    hostStarts.push(run.ms);
    await stopProcess(run.child);
    rmSync(run.dir, { recursive: true, force: true });
  };
  const coldRun = async () => {
    const run = await createToFirstPage(token);
    cold.push(run.ms);
    coldAnswered.push(run.answeredMs);
    await api('DELETE', `/workspace/${run.session.id}`, { token });
  };
  for (let i = 0; i < flags.runs; i++) {
    for (const step of i % 2 === 0 ? [hostRun, coldRun] : [coldRun, hostRun]) await step();
  }
  log(`cold p50 ${median(cold)} ms, host floor p50 ${median(hostStarts)} ms`);

  log('HMR: host file writes (the floor), API writes seen on the direct port and through the preview proxy');
  cleanup.browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, headless: true });
  const browser = cleanup.browser;
  const hostServer = await hostAstroColdStart();
  const hostOriginals = {};
  for (const file of new Set(Object.values(EDITS).map((e) => e.file))) hostOriginals[file] = await readFile(join(hostServer.dir, file), 'utf8');
  const hostPage = await openPage(browser, `http://127.0.0.1:${HOST_ASTRO_PORT}/`);
  // One workspace per page, so an edit for one is not also a reload for the other.
  const workspaceTarget = async (name, urlOf) => {
    const { session } = await createToFirstPage(token);
    const originals = {};
    for (const file of new Set(Object.values(EDITS).map((e) => e.file))) {
      originals[file] = (await api('GET', `/workspace/${session.id}/files/${file}`, { token })).body.content;
    }
    const write = async (file, content) => {
      const res = await api('PUT', `/workspace/${session.id}/files/${file}`, { token, body: { content } });
      if (res.status !== 200) throw new Error(`PUT ${file}: ${res.status} ${JSON.stringify(res.body)}`);
    };
    const { context, page } = await openPage(browser, urlOf(session));
    return { name, session, context, page, originals, write };
  };
  const direct = await workspaceTarget('direct', (session) => `http://127.0.0.1:${session.port}/`);
  const proxied = await workspaceTarget('proxy', (session) => session.previewUrl);
  await sleep(3000);
  const hostRss = treeRssMiB(hostServer.child.pid);
  const idleMemory = await containerMemory(await containerIdOf(coldDb, direct.session.id));
  const idleContainerMiB = idleMemory?.usageMiB ?? null;
  const hmr = await measureHmr(
    [
      { name: 'host', page: hostPage.page, originals: hostOriginals, write: (file, content) => writeFile(join(hostServer.dir, file), content) },
      direct,
      proxied,
    ],
    flags.hmrRuns,
  );
  const [hostHmr, directHmr, proxyHmr] = [hmr.host, hmr.direct, hmr.proxy];
  for (const target of [hostPage, direct, proxied]) await target.context.close();
  await stopProcess(hostServer.child);
  await api('DELETE', `/workspace/${proxied.session.id}`, { token });
  const session = direct.session;

  log(`API overhead: ${flags.loadSeconds} s at concurrency ${flags.loadConcurrency} each`);
  const bare = await load(`http://127.0.0.1:${API_PORT}/health`, { seconds: flags.loadSeconds, concurrency: flags.loadConcurrency });
  const status = await load(`http://127.0.0.1:${API_PORT}/api/v1/workspace/${session.id}/status`, {
    token,
    seconds: flags.loadSeconds,
    concurrency: flags.loadConcurrency,
  });
  await api('DELETE', `/workspace/${session.id}`, { token });

  let capacity = null;
  if (flags.capacity) {
    log(`capacity: creating until a create fails, takes over ${flags.capacityBudgetMs} ms, or ${flags.capacityMax} run`);
    const held = [];
    const perCreate = [];
    const availableBefore = hostAvailableMiB();
    let stoppedBy = `reached --capacity-max ${flags.capacityMax}`;
    for (let i = 0; i < flags.capacityMax; i++) {
      try {
        const t0 = Date.now();
        const created = await api('POST', '/workspace/create', { token, body: {} });
        if (created.status !== 201) {
          stoppedBy = `create ${i + 1} answered ${created.status}: ${created.body?.message ?? ''}`;
          break;
        }
        held.push(created.body.id);
        await waitForFullPage(created.body.previewUrl, flags.capacityBudgetMs);
        perCreate.push(Date.now() - t0);
      } catch (error) {
        stoppedBy = `create ${i + 1}: ${error.message}`;
        break;
      }
    }
    const memories = [];
    const availableAtPeak = hostAvailableMiB();
    for (const id of held.slice(-3)) memories.push(await containerMemoryMiB(await containerIdOf(coldDb, id)));
    capacity = {
      held: perCreate.length,
      stoppedBy,
      createToPageMs: summary(perCreate),
      lastIdleMiB: memories,
      hostAvailableBeforeMiB: availableBefore,
      hostAvailableAtPeakMiB: availableAtPeak,
      // What each held workspace took from the machine, everything included (containers, page
      // cache, kernel memory, the API's own share).
      hostMiBPerWorkspace: held.length ? round((availableBefore - availableAtPeak) / held.length) : null,
    };
    for (const id of held) await api('DELETE', `/workspace/${id}`, { token });
  }
  let burst = null;
  if (flags.burst > 0) {
    log(`burst: ${flags.burst} concurrent cold creates`);
    burst = await runBurst(flags.burst, token);
  }
  await stopProcess(apiProcess);
  await removeDatabase(coldDb.split('/').pop());

  // ---- phase 2: the API with a warm pool
  let warm = [];
  let warmAnswered = [];
  let pooledIdleMiB = null;
  if (flags.poolSize > 0) {
    const warmDb = await createDatabase();
    log(`starting the API (WARM_POOL_SIZE=${flags.poolSize})`);
    apiProcess = await startApi({ databaseUrl: warmDb, dataDir: join(dataDir, 'warm'), poolSize: flags.poolSize });
    const warmToken = await newUser();
    for (let i = 0; i < flags.runs; i++) {
      // Steady state: a full pool (a claim's refill takes a cold start's time in the background).
      if (!(await waitForPoolFull(warmDb, flags.poolSize))) log('pool did not refill within 120 s');
      if (i === 0) {
        await sleep(3000);
        const { rows } = await (async () => {
          const client = new pg.Client({ connectionString: warmDb });
          await client.connect();
          const r = await client.query(
            `SELECT container_id FROM workspace_sessions s JOIN users u ON u.id = s.user_id
              WHERE u.email = 'warm-pool@system.invalid' AND s.status = 'running' LIMIT 1`,
          );
          await client.end();
          return r;
        })();
        if (rows[0]) pooledIdleMiB = await containerMemoryMiB(rows[0].container_id);
      }
      const run = await createToFirstPage(warmToken);
      if (!run.fromPool) log(`warm run ${i + 1} was not served by the pool`);
      warm.push(run.ms);
      warmAnswered.push(run.answeredMs);
      await api('DELETE', `/workspace/${run.session.id}`, { token: warmToken });
    }
    log(`warm p50 ${median(warm)} ms`);
    await stopProcess(apiProcess);
    await removeDatabase(warmDb.split('/').pop());
  }

  // ---- results
  const hostHmrP50 = Object.fromEntries(Object.entries(hostHmr).map(([k, v]) => [k, median(v)]));
  const hostColdP50 = median(hostStarts);
  results.floor = {
    hostColdStartMs: summary(hostStarts),
    hostHmrMs: Object.fromEntries(Object.entries(hostHmr).map(([k, v]) => [k, summary(v)])),
    hostIdleRssMiB: hostRss,
  };
  results.createToFirstPage = {
    cold: { ...summary(cold), ratioToFloor: ratio(median(cold), hostColdP50), apiAnsweredP50Ms: round(median(coldAnswered)) },
    warm: { ...summary(warm), ratioToFloor: ratio(median(warm), hostColdP50), apiAnsweredP50Ms: round(median(warmAnswered)) },
  };
  results.hmr = {};
  for (const kind of Object.keys(EDITS)) {
    results.hmr[kind] = {
      direct: { ...summary(directHmr[kind]), ratioToFloor: ratio(median(directHmr[kind]), hostHmrP50[kind]) },
      proxy: {
        ...summary(proxyHmr[kind]),
        ratioToFloor: ratio(median(proxyHmr[kind]), hostHmrP50[kind]),
        ratioToDirect: ratio(median(proxyHmr[kind]), median(directHmr[kind])),
      },
    };
  }
  results.memory = {
    idleContainerMiB,
    idleContainerAnonMiB: idleMemory?.anonMiB ?? null,
    pooledIdleContainerMiB: pooledIdleMiB,
    hostAstroRssMiB: hostRss,
    ratioToHost: ratio(idleContainerMiB, hostRss),
  };
  results.apiOverhead = { bareHealth: bare, workspaceStatus: status, ratio: ratio(status.rps, bare.rps) };
  results.capacity = capacity;
  results.burst = burst && {
    ...burst,
    ownStartP50RatioToLoneCold: ratio(burst.ownStartMs.p50, median(cold)),
  };

  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  const md = markdown(results);
  writeFileSync(join(RESULTS_DIR, 'latest.md'), md);
  console.log(`\n${md}`);
  log(`wrote ${join(RESULTS_DIR, 'latest.json')} and latest.md`);
}

function markdown(r) {
  const f = (v, unit = ' ms') => (v === null || v === undefined ? 'n/a' : `${v}${unit}`);
  const x = (v) => (v === null || v === undefined ? 'n/a' : `${v}×`);
  const lines = [
    `Benchmark of ${r.at} on ${r.machine.cpus} cores (${r.machine.cpuModel}), ${r.machine.memoryGiB} GiB; N = ${r.flags.runs} creates, ${r.flags.hmrRuns} edits per kind.`,
    '',
    '| measure | p50 | p95 | floor (p50) | ratio to floor |',
    '|---|---|---|---|---|',
    `| create → first full page, cold (WARM_POOL_SIZE=0) | ${f(r.createToFirstPage.cold.p50)} | ${f(r.createToFirstPage.cold.p95)} | host \`astro dev\` start ${f(r.floor.hostColdStartMs.p50)} | ${x(r.createToFirstPage.cold.ratioToFloor)} |`,
    `| create → first full page, warm pool | ${f(r.createToFirstPage.warm.p50)} | ${f(r.createToFirstPage.warm.p95)} | host \`astro dev\` start ${f(r.floor.hostColdStartMs.p50)} | ${x(r.createToFirstPage.warm.ratioToFloor)} |`,
  ];
  const names = { markup: '`.astro` markup (full reload)', cssFile: 'CSS file', styleBlock: '`<style>` block' };
  for (const [kind, v] of Object.entries(r.hmr)) {
    const floor = r.floor.hostHmrMs[kind].p50;
    lines.push(`| HMR ${names[kind]}: API PUT → DOM, direct port | ${f(v.direct.p50)} | ${f(v.direct.p95)} | host file write ${f(floor)} | ${x(v.direct.ratioToFloor)} |`);
    lines.push(
      `| HMR ${names[kind]}: API PUT → DOM, preview proxy | ${f(v.proxy.p50)} | ${f(v.proxy.p95)} | host file write ${f(floor)} | ${x(v.proxy.ratioToFloor)} (${x(v.proxy.ratioToDirect)} direct) |`,
    );
  }
  lines.push(
    `| idle workspace memory (container) | ${f(r.memory.idleContainerMiB, ' MiB')} (anonymous ${f(r.memory.idleContainerAnonMiB, ' MiB')}) | | host astro RSS ${f(r.memory.hostAstroRssMiB, ' MiB')} | ${x(r.memory.ratioToHost)} |`,
    `| idle pooled workspace memory (container, never browsed) | ${f(r.memory.pooledIdleContainerMiB, ' MiB')} | | | |`,
    `| API: GET /workspace/:id/status | ${f(r.apiOverhead.workspaceStatus.rps, ' req/s')} (latency p50 ${f(r.apiOverhead.workspaceStatus.p50Ms)}) | ${f(r.apiOverhead.workspaceStatus.p95Ms)} | bare GET /health ${f(r.apiOverhead.bareHealth.rps, ' req/s')} | ${x(r.apiOverhead.ratio)} |`,
  );
  if (r.burst) {
    lines.push(
      `| burst of ${r.burst.n} creates: create → page (served ${r.burst.served}/${r.burst.n}) | ${f(r.burst.createToPageMs.p50)} | ${f(r.burst.createToPageMs.p95)} | | |`,
      `| burst: each start's own duration (after its queue wait) | ${f(r.burst.ownStartMs.p50)} | ${f(r.burst.ownStartMs.p95)} | lone cold create ${f(r.createToFirstPage.cold.p50)} | ${x(r.burst.ownStartP50RatioToLoneCold)} |`,
    );
  }
  if (r.capacity) {
    lines.push(`| capacity: workspaces held (each create → page within budget) | ${r.capacity.held} | | | stopped by: ${r.capacity.stoppedBy} |`);
    lines.push(
      `| capacity: host memory taken per held workspace (MemAvailable before − at peak, ÷ held) | ${f(r.capacity.hostMiBPerWorkspace, ' MiB')} | | | ${f(r.capacity.hostAvailableAtPeakMiB, ' MiB')} still available |`,
    );
    lines.push(`| capacity: create → page of each sequential create | ${f(r.capacity.createToPageMs?.p50)} | ${f(r.capacity.createToPageMs?.p95)} | | |`);
  } else {
    lines.push('| capacity | not run (pass --capacity) | | | |');
  }
  lines.push(
    '',
    `Cold creates answer 201 after ${f(r.createToFirstPage.cold.apiAnsweredP50Ms)} (p50), warm ones after ${f(r.createToFirstPage.warm.apiAnsweredP50Ms)}; load: ${r.flags.loadConcurrency} keep-alive connections for ${r.flags.loadSeconds} s per route.`,
    '',
  );
  return lines.join('\n');
}

main()
  .catch((error) => {
    console.error('[bench] failed:', error);
    process.exitCode = 1;
  })
  .finally(() => cleanUpEverything());

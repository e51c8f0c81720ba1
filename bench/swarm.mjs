#!/usr/bin/env node
/**
 * Benchmark of the swarm runtime against the docker runtime, in the same run on the same machine.
 *
 *   npm run bench:swarm                       # defaults: --runs 5 --pool-size 2 --spread 20
 *   npm run bench:swarm -- --runs 3 --spread 10 --no-build
 *
 * Makes a swarm of this machine (scripts/swarm/local-swarm.mjs: the machine's engine as manager,
 * two more engines, each in a network namespace of its own, as workers), runs the API image as a
 * container on the manager (RUNTIME=swarm, port 3101; workspaces on the workers) and, beside it,
 * the built API as a host process with
 * the docker runtime (port 3100, ports 8500-8600), both in PREVIEW_MODE=proxy on their own
 * databases. Measures, alternating docker and swarm run by run: create → first full page cold
 * (WARM_POOL_SIZE=0) and from the pool; then `--spread` creates at once on the swarm: where they
 * land and each start's own time against a lone start. Prints and writes
 * bench/results/swarm-latest.{json,md}; asserts nothing. Everything it starts is removed at the end,
 * also on failure or Ctrl-C, and the engine leaves swarm mode. Traffic: loopback, the veth pair and
 * the namespace and containers it makes. Needs root; not beside the test suites (shared CPU).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { createLocalSwarm } from '../scripts/swarm/local-swarm.mjs';
import {
  apiClient,
  cleanup,
  cleanUpEverything,
  concurrentCreates,
  createDatabase,
  createToFirstPage,
  log,
  median,
  newUser,
  ratio,
  RESULTS_DIR,
  ROOT,
  round,
  startApi,
  stopProcess,
  summary,
  waitForPoolFull,
} from './lib.mjs';

const DOCKER_PORT = 3100;
const SWARM_PORT = 3101;
const IMAGE_TAG = process.env.IMAGE_TAG ?? 'latest';
const TEMPLATE_IMAGE = process.env.TEMPLATE_IMAGE ?? `localhost:5000/baseline-landing-template:${IMAGE_TAG}`;
const API_IMAGE = process.env.API_IMAGE ?? `localhost:5000/builder-api:${IMAGE_TAG}`;
const JWT_SECRET = randomBytes(32).toString('hex');

function parseFlags(argv) {
  const flags = { runs: 5, poolSize: 2, spread: 20, build: true };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const next = () => Number(argv[++i]);
    if (arg === '--runs') flags.runs = next();
    else if (arg === '--pool-size') flags.poolSize = next();
    else if (arg === '--spread') flags.spread = next();
    else if (arg === '--no-build') flags.build = false;
    else throw new Error(`unknown flag ${arg}`);
  }
  flags.runs = Math.min(Math.max(1, flags.runs), 50);
  flags.poolSize = Math.min(Math.max(1, flags.poolSize), 8);
  flags.spread = Math.min(Math.max(0, flags.spread), 40);
  return flags;
}

// ------------------------------------------------------------------ what it starts, and its removal

const made = { swarm: null, hostApi: null };
// Run first by the shared clean-up (bench/lib.mjs, also on Ctrl-C): the swarm API and its workspaces
// go before the databases they use; the engine leaves swarm mode.
cleanup.tasks.push(async () => {
  await stopHostApi();
  await made.swarm?.destroy();
});

/** The docker runtime's API: the built backend as a host process, as `npm start` runs it. */
async function startHostApi({ databaseUrl, poolSize }) {
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-swarm-docker-'));
  cleanup.dirs.add(dataDir);
  made.hostApi = await startApi({
    databaseUrl,
    dataDir,
    poolSize,
    port: DOCKER_PORT,
    env: { TEMPLATE_IMAGE, JWT_SECRET, DEPLOYMENT_ID: `bench-docker-${process.pid}` },
  });
}

async function stopHostApi() {
  const child = made.hostApi;
  made.hostApi = null;
  if (child) await stopProcess(child, 30_000);
}

/** The swarm runtime's API: its image as a container on the manager. */
async function startSwarmApi({ databaseUrl, poolSize, image, env = {} }) {
  await made.swarm.startApi({
    name: `bench-swarm-api-${process.pid}`,
    image: API_IMAGE,
    port: SWARM_PORT,
    databaseUrl,
    env: {
      JWT_SECRET,
      LOG_LEVEL: 'warn',
      RUNTIME: 'swarm',
      TEMPLATE_IMAGE: image,
      PREVIEW_MODE: 'proxy',
      WARM_POOL_SIZE: String(poolSize),
      MAX_SESSIONS_PER_USER: '200',
      DEPLOYMENT_ID: `bench-swarm-${process.pid}`,
      // Workspaces on the workers: the API's node is left to the API (Swarm's spread counts the
      // API's network attachments as its tasks anyway, so they would avoid it).
      SWARM_PLACEMENT_CONSTRAINTS: 'node.role==worker',
      // A different CPU limit, to compare (README: why one core).
      ...(process.env.SWARM_CPU_LIMIT_CORES ? { SWARM_CPU_LIMIT_CORES: process.env.SWARM_CPU_LIMIT_CORES } : {}),
      ...env,
    },
  });
}
const stopSwarmApi = () => made.swarm.stopApi(`bench-swarm-api-${process.pid}`);

/** Docker engine API on the manager (the bench's own view of where tasks run). */
function managerApi(path) {
  const out = spawnSync('curl', ['-s', '--unix-socket', '/var/run/docker.sock', `http://localhost/v1.41${path}`], { encoding: 'utf8' });
  return JSON.parse(out.stdout || 'null');
}

// ------------------------------------------------------------------ measures

/** `runs` cold creates on each side, alternating; each session is deleted after its first page. */
async function coldCreates(sides, runs) {
  const times = Object.fromEntries(sides.map((side) => [side.name, []]));
  for (let i = 0; i < runs; i++) {
    for (const side of i % 2 === 0 ? sides : [...sides].reverse()) {
      const run = await createToFirstPage(side.token, { call: side.call });
      times[side.name].push(run.ms);
      await side.call('DELETE', `/workspace/${run.session.id}`, { token: side.token });
    }
  }
  return times;
}

/** `runs` creates from a full pool on each side, alternating, waiting for the pool to refill in between. */
async function warmCreates(sides, runs, poolSize) {
  const times = Object.fromEntries(sides.map((side) => [side.name, []]));
  const misses = Object.fromEntries(sides.map((side) => [side.name, 0]));
  for (const side of sides) if (!(await waitForPoolFull(side.databaseUrl, poolSize, 300_000))) throw new Error(`${side.name}: pool not full`);
  for (let i = 0; i < runs; i++) {
    for (const side of i % 2 === 0 ? sides : [...sides].reverse()) {
      const run = await createToFirstPage(side.token, { call: side.call });
      times[side.name].push(run.ms);
      if (!run.fromPool) misses[side.name]++;
      await side.call('DELETE', `/workspace/${run.session.id}`, { token: side.token });
      // The refill (and the deleted workspace's clean-up) settle before the next side's run.
      if (!(await waitForPoolFull(side.databaseUrl, poolSize, 300_000))) throw new Error(`${side.name}: pool did not refill`);
      await sleep(2_000);
    }
  }
  return { times, misses };
}

/** `n` creates at once on the swarm (timed as in concurrentCreates), and the worker each task landed on. */
async function spreadCreates(side, n) {
  const { sessions, own, total } = await concurrentCreates(side.token, n, { call: side.call });
  // Where they run: their services' tasks, by node.
  const nodes = Object.fromEntries(made.swarm.workers.map((w) => [w.nodeId, w.name]));
  const perNode = {};
  for (const session of sessions) {
    const filters = encodeURIComponent(JSON.stringify({ label: [`dev.builder.session-id=${session.id}`] }));
    const [service] = managerApi(`/services?filters=${filters}`) ?? [];
    const tasks = service ? managerApi(`/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [service.ID] }))}`) : [];
    const task = (tasks ?? []).find((t) => t.Status.State === 'running');
    const node = task ? (nodes[task.NodeID] ?? 'manager') : 'not running';
    perNode[node] = (perNode[node] ?? 0) + 1;
  }
  for (const session of sessions) await side.call('DELETE', `/workspace/${session.id}`, { token: side.token });
  return { n, accepted: sessions.length, served: total.length, perNode, createToPageMs: summary(total), ownStartMs: summary(own) };
}

/** Memory of an idle workspace's container and of its agent (the swarm's cost per workspace), read on its worker. */
function agentMemory(sessionId) {
  for (const worker of made.swarm.workers) {
    const engine = (...args) => spawnSync('docker', ['-H', `unix://${worker.socket}`, ...args], { encoding: 'utf8' });
    const id = engine('ps', '-q', '--filter', `label=dev.builder.session-id=${sessionId}`).stdout.trim();
    if (!id) continue;
    // The agent is the node process whose first arguments are `node <agent script>`.
    const status = engine('exec', id, 'sh', '-c', 'for p in /proc/[0-9]*; do case "$(tr "\\0" " " < $p/cmdline 2>/dev/null)" in "node "*workspace-agent.js*) cat $p/status;; esac; done');
    // Its own memory is the anonymous part; the rest is the node binary's pages, shared with the dev server's node.
    const mib = (field) => {
      const kib = Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status.stdout)?.[1] ?? NaN);
      return Number.isFinite(kib) ? round(kib / 1024) : null;
    };
    const usage = engine('stats', '--no-stream', '--format', '{{.MemUsage}}', id).stdout.trim().split(' / ')[0];
    return { agentRssMiB: mib('VmRSS'), agentAnonMiB: mib('RssAnon'), containerMemUsage: usage || null };
  }
  return null;
}

// ------------------------------------------------------------------ main

async function main() {
  const flags = parseFlags(process.argv.slice(2));
  const results = {
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: round(totalmem() / 2 ** 30) },
    flags,
    images: { template: TEMPLATE_IMAGE, api: API_IMAGE },
    swarmCpuLimitCores: Number(process.env.SWARM_CPU_LIMIT_CORES ?? 0.5),
  };
  if (flags.build) {
    log('building the API (npm run build) and its image');
    for (const [cmd, args, env] of [
      ['npm', ['run', 'build'], {}],
      ['bash', [join(ROOT, 'scripts/images/build-app-images.sh'), 'api'], { IMAGE_TAG }],
    ]) {
      if (spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, ...env } }).status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed`);
    }
  }

  log('making a swarm of this machine: the manager and two workers');
  const swarmStartedAt = Date.now();
  made.swarm = await createLocalSwarm({ workers: 2 });
  results.swarmSetupMs = Date.now() - swarmStartedAt;
  const image = await made.swarm.imageFor(TEMPLATE_IMAGE);

  // ---- cold: no pool on either side.
  const dockerCold = { name: 'docker', databaseUrl: await createDatabase(), call: apiClient(DOCKER_PORT) };
  const swarmCold = { name: 'swarm', databaseUrl: await createDatabase(), call: apiClient(SWARM_PORT) };
  await startHostApi({ databaseUrl: dockerCold.databaseUrl, poolSize: 0 });
  await startSwarmApi({ databaseUrl: swarmCold.databaseUrl, poolSize: 0, image });
  for (const side of [dockerCold, swarmCold]) side.token = await newUser(side.call);

  // The first task on each node pulls the image there; placed by spread, two creates cover both workers.
  log('warming up: the first workspace on each worker (each pulls the image from the registry)');
  const warmup = await Promise.all([0, 1].map(() => createToFirstPage(swarmCold.token, { call: swarmCold.call })));
  results.firstOnEachNodeMs = warmup.map((run) => run.ms);
  results.agent = agentMemory(warmup[0].session.id) ?? agentMemory(warmup[1].session.id);
  for (const run of warmup) await swarmCold.call('DELETE', `/workspace/${run.session.id}`, { token: swarmCold.token });
  const dockerWarmup = await createToFirstPage(dockerCold.token, { call: dockerCold.call });
  await dockerCold.call('DELETE', `/workspace/${dockerWarmup.session.id}`, { token: dockerCold.token });

  log(`cold create → first full page, docker and swarm alternating, x${flags.runs}`);
  const cold = await coldCreates([dockerCold, swarmCold], flags.runs);
  results.cold = { docker: summary(cold.docker), swarm: summary(cold.swarm) };
  log(`cold p50: docker ${median(cold.docker)} ms, swarm ${median(cold.swarm)} ms`);

  // ---- the spread: many creates at once on the swarm (the start queue: one start per node).
  if (flags.spread > 0) {
    await stopSwarmApi();
    const spreadSide = { name: 'swarm', databaseUrl: await createDatabase(), call: apiClient(SWARM_PORT) };
    await startSwarmApi({ databaseUrl: spreadSide.databaseUrl, poolSize: 0, image, env: { START_CONCURRENCY: '2' } });
    spreadSide.token = await newUser(spreadSide.call);
    log(`${flags.spread} creates at once over two workers (START_CONCURRENCY=2)`);
    results.spread = await spreadCreates(spreadSide, flags.spread);
    results.spread.loneStartMs = median(cold.swarm);
    log(`spread: ${JSON.stringify(results.spread.perNode)}, own start p50 ${results.spread.ownStartMs.p50} ms`);
  }

  // ---- warm: a full pool on each side.
  await stopHostApi();
  await stopSwarmApi();
  const dockerWarm = { name: 'docker', databaseUrl: await createDatabase(), call: apiClient(DOCKER_PORT) };
  const swarmWarm = { name: 'swarm', databaseUrl: await createDatabase(), call: apiClient(SWARM_PORT) };
  await startHostApi({ databaseUrl: dockerWarm.databaseUrl, poolSize: flags.poolSize });
  await startSwarmApi({ databaseUrl: swarmWarm.databaseUrl, poolSize: flags.poolSize, image });
  for (const side of [dockerWarm, swarmWarm]) side.token = await newUser(side.call);
  log(`create → first full page from a full pool (${flags.poolSize}), alternating, x${flags.runs}`);
  const warm = await warmCreates([dockerWarm, swarmWarm], flags.runs, flags.poolSize);
  results.warm = { docker: summary(warm.times.docker), swarm: summary(warm.times.swarm), coldFallbacks: warm.misses };

  await cleanUpEverything();
  writeResults(results);
}

function writeResults(results) {
  const md = markdown(results);
  writeFileSync(join(RESULTS_DIR, 'swarm-latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(RESULTS_DIR, 'swarm-latest.md'), md);
  console.log(`\n${md}`);
}

function markdown(r) {
  const row = (measure, swarm, docker) =>
    `| ${measure} | ${swarm?.p50 ?? '-'} ms | ${swarm?.p95 ?? '-'} ms | ${docker?.p50 ?? '-'} ms | ${ratio(swarm?.p50, docker?.p50) ?? '-'}× |`;
  const lines = [
    `# Swarm benchmark (${r.at})`,
    '',
    `Machine: ${r.machine.cpus} cores (${r.machine.cpuModel}), ${r.machine.memoryGiB} GiB; the swarm's three nodes (a manager running the API, two workers running the workspaces) are engines on it. Flags: \`${JSON.stringify(r.flags)}\`; a swarm workspace's CPU limit: ${r.swarmCpuLimitCores} core(s).`,
    '',
    '| measure | swarm p50 | swarm p95 | docker p50 (same run) | swarm ÷ docker |',
    '|---|---|---|---|---|',
    row('create → first full page, cold (WARM_POOL_SIZE=0)', r.cold.swarm, r.cold.docker),
    row(`create → first full page, from the pool (${r.flags.poolSize})`, r.warm.swarm, r.warm.docker),
    '',
    `- First workspace on each worker (each pulls the image from the registry first): ${r.firstOnEachNodeMs.join(' ms, ')} ms.`,
    `- Pool misses (a create that found the pool empty and started cold): ${JSON.stringify(r.warm.coldFallbacks)}.`,
    ...(r.agent
      ? [
          `- A swarm workspace just after its first page: container ${r.agent.containerMemUsage} (docker stats); its agent: ${r.agent.agentAnonMiB} MiB of its own (anonymous), RSS ${r.agent.agentRssMiB} MiB with the node binary's pages it shares with the dev server.`,
        ]
      : []),
  ];
  if (r.spread) {
    const s = r.spread;
    lines.push(
      '',
      `${s.n} creates at once over two workers (START_CONCURRENCY=2): ${s.served}/${s.accepted} served; per node ${JSON.stringify(s.perNode)}.`,
      '',
      '| measure | p50 | p95 | lone start (cold p50) | ratio |',
      '|---|---|---|---|---|',
      `| create → page (queue wait included) | ${s.createToPageMs.p50} ms | ${s.createToPageMs.p95} ms | | |`,
      `| each start's own time (after its queue wait) | ${s.ownStartMs.p50} ms | ${s.ownStartMs.p95} ms | ${s.loneStartMs} ms | ${ratio(s.ownStartMs.p50, s.loneStartMs)}× |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

main().catch(async (error) => {
  console.error('[bench] failed:', error);
  await cleanUpEverything();
  process.exit(1);
});

#!/usr/bin/env node
/**
 * Benchmark of the real system against the floor measured in the same run on the same machine.
 *
 *   npm run bench                      # defaults: --runs 5 --hmr-runs 5
 *   npm run bench -- --runs 3 --hmr-runs 3 --no-build
 *   npm run bench -- --capacity --capacity-max 30
 *   npm run bench -- --burst 20         # also: 20 concurrent cold creates through the start queue
 *   npm run bench -- --only verdict --verify-runs 7   # the compile verdict alone (latest-verdict.*)
 *   npm run bench -- --only replicas --runs 3         # two replicas vs one (latest-replicas.*)
 *
 * Starts the built API (node packages/nest/dist/main.js, RUNTIME=docker, its own database on the
 * local PostgreSQL, PORT 3100, ports 8500-8600, PREVIEW_MODE=proxy) and a plain host `astro dev`
 * for the floors; prints and writes bench/results/latest.{json,md}. Medians and ratios only, never
 * asserts. Each floor is measured alongside what it is the floor of, alternating run by run (host
 * start / cold create, host write / API edit on the direct port / through the proxy), so a busy
 * moment of the machine weighs on both sides of a ratio. Everything it starts (API, astro, containers, volumes, database, temp folders) is
 * stopped and removed at the end, also on failure or Ctrl-C. Traffic goes to loopback only.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { chromium } from 'playwright-core';
import {
  api,
  API_PORT,
  CHROMIUM_ARGS,
  cleanUpEverything,
  cleanup,
  concurrentCreates,
  containerIdOf,
  containerMemory,
  containerMemoryMiB,
  createDatabase,
  createToFirstPage,
  HERO,
  HOST_ASTRO_PORT,
  hostAstroColdStart,
  hostAvailableMiB,
  httpGet,
  load,
  log,
  marker,
  median,
  newUser,
  openPage,
  ratio,
  removeDatabase,
  RESULTS_DIR,
  ROOT,
  round,
  seenAt,
  startApi,
  stopProcess,
  summary,
  treeRssMiB,
  waitForFullPage,
  waitForPoolFull,
} from './lib.mjs';
import { benchProjects, projectsMarkdown } from './projects.mjs';
import { benchReplicas, replicasMarkdown } from './replicas.mjs';
import { benchVerdict, verdictMarkdown } from './verdict.mjs';

/** The parts `--only` runs by themselves, each into bench/results/latest-<part>.{json,md}. */
/** Debian's Chromium, closed by the clean-up. */
async function launchBrowser() {
  cleanup.browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, headless: true });
  return cleanup.browser;
}

const ALONE = {
  projects: {
    title: 'Projects and versions',
    run: async (flags, dataDir) =>
      benchProjects({
        runs: flags.runs,
        putRuns: Math.max(1, flags.putRuns),
        dataDir: join(dataDir, 'projects'),
        browser: await launchBrowser(),
        poolSize: Math.max(1, flags.poolSize),
      }),
    n: (flags) => `N = ${flags.runs} restores and creates, ${flags.putRuns} PUTs per store`,
    markdown: projectsMarkdown,
  },
  verdict: {
    title: 'Compile verdict',
    run: (flags, dataDir) => benchVerdict({ runs: Math.max(1, flags.verifyRuns), dataDir: join(dataDir, 'verdict') }),
    n: (flags) => `N = ${flags.verifyRuns} per measure`,
    markdown: verdictMarkdown,
  },
  replicas: {
    title: 'Replicas',
    run: (flags, dataDir) => runReplicas(flags, dataDir),
    n: (flags) => `N = ${flags.runs} creates per side, ${flags.hmrRuns} edits, ${flags.loadSeconds} s load rounds at ${flags.loadConcurrency} connections`,
    markdown: replicasMarkdown,
  },
};

function runReplicas(flags, dataDir) {
  return benchReplicas({
    runs: flags.runs,
    hmrRuns: flags.hmrRuns,
    dataDir: join(dataDir, 'replicas'),
    loadSeconds: flags.loadSeconds,
    loadConcurrency: flags.loadConcurrency,
  });
}

// ------------------------------------------------------------------ flags

function parseFlags(argv) {
  const flags = { runs: 5, hmrRuns: 5, putRuns: 30, verifyRuns: null, projects: true, verdict: true, replicas: true, only: null, build: true, capacity: false, capacityMax: 30, capacityBudgetMs: 30_000, loadSeconds: 5, loadConcurrency: 16, poolSize: 2, burst: 0 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const next = () => Number(argv[++i]);
    if (arg === '--runs') flags.runs = next();
    else if (arg === '--hmr-runs') flags.hmrRuns = next();
    else if (arg === '--no-build') flags.build = false;
    else if (arg === '--no-projects') flags.projects = false;
    else if (arg === '--put-runs') flags.putRuns = next();
    else if (arg === '--no-verdict') flags.verdict = false;
    else if (arg === '--no-replicas') flags.replicas = false;
    else if (arg === '--verify-runs') flags.verifyRuns = next();
    else if (arg === '--only') {
      flags.only = argv[++i];
      if (!(flags.only in ALONE)) throw new Error(`--only: the parts that run alone are ${Object.keys(ALONE).join(', ')}`);
    }
    else if (arg === '--capacity') flags.capacity = true;
    else if (arg === '--capacity-max') flags.capacityMax = next();
    else if (arg === '--capacity-budget-ms') flags.capacityBudgetMs = next();
    else if (arg === '--load-seconds') flags.loadSeconds = next();
    else if (arg === '--load-concurrency') flags.loadConcurrency = next();
    else if (arg === '--pool-size') flags.poolSize = next();
    else if (arg === '--burst') flags.burst = next();
    else if (arg === '--help' || arg === '-h') {
      console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 15).join('\n'));
      process.exit(0);
    } else throw new Error(`unknown flag ${arg}`);
  }
  flags.verifyRuns ??= flags.hmrRuns;
  for (const [key, value] of Object.entries(flags)) {
    if (typeof value === 'number' && !(Number.isFinite(value) && value >= 0)) throw new Error(`--${key}: not a number`);
  }
  flags.runs = Math.min(Math.max(1, flags.runs), 50);
  flags.hmrRuns = Math.min(Math.max(1, flags.hmrRuns), 50);
  flags.capacityMax = Math.min(flags.capacityMax, 101);
  flags.burst = Math.min(flags.burst, 50);
  return flags;
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

// ------------------------------------------------------------------ burst

/** `n` concurrent cold creates through the start queue (see concurrentCreates), then deleted. */
async function runBurst(n, token) {
  const { sessions, own, total } = await concurrentCreates(token, n, { deadlineMs: 600_000 });
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

  if (flags.only) {
    const part = ALONE[flags.only];
    results[flags.only] = await part.run(flags, dataDir);
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(join(RESULTS_DIR, `latest-${flags.only}.json`), `${JSON.stringify(results, null, 2)}\n`);
    const md = [
      `${part.title} benchmark of ${results.at} on ${results.machine.cpus} cores (${results.machine.cpuModel}); ${part.n(flags)}.`,
      '',
      '| measure | p50 | p95 | baseline (p50) | ratio |',
      '|---|---|---|---|---|',
      ...part.markdown(results[flags.only]),
      '',
    ].join('\n');
    writeFileSync(join(RESULTS_DIR, `latest-${flags.only}.md`), md);
    console.log(`\n${md}`);
    log(`wrote ${join(RESULTS_DIR, `latest-${flags.only}.json`)} and latest-${flags.only}.md`);
    return;
  }

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
  const browser = await launchBrowser();
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

  // ---- projects and versions (their own APIs, ports 3101-3104, the same preview port range)
  if (flags.projects) {
    results.projects = await benchProjects({
      runs: flags.runs,
      putRuns: Math.max(1, flags.putRuns),
      dataDir: join(dataDir, 'projects'),
      browser,
      poolSize: Math.max(1, flags.poolSize),
    });
  }

  // ---- the compile verdict of a write (its own API, port 3105, preview ports 8840-8849)
  if (flags.verdict) {
    results.verdict = await benchVerdict({ runs: Math.max(1, flags.verifyRuns), dataDir: join(dataDir, 'verdict') });
  }

  // ---- two replicas behind the front proxy against one (their own APIs, ports 3106-3107, preview ports 8830-8839)
  if (flags.replicas) results.replicas = await runReplicas(flags, dataDir);

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
  if (r.projects) lines.push(...projectsMarkdown(r.projects));
  if (r.verdict) lines.push(...verdictMarkdown(r.verdict));
  if (r.replicas) lines.push(...replicasMarkdown(r.replicas));
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

/**
 * Projects and versions, measured against baselines run in the same process:
 * - files PUT with versioning (file-system store, and an S3-compatible store: s3rver on loopback)
 *   against the same PUT with versioning off, three APIs at once, alternating edit by edit;
 * - bytes the store gains per small edit (dedup: one changed file stores one new blob);
 * - restore → the restored text in the DOM of the open preview (Chromium);
 * - create for an existing project from the warm pool → first full page showing the project's own
 *   content, alternating with a warm create of a new project (the template).
 */
import { createRequire } from 'node:module';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  apiClient,
  cleanup,
  createDatabase,
  createToFirstPage,
  HERO,
  log,
  marker,
  median,
  newUser,
  openPage,
  ratio,
  removeDatabase,
  seenAt,
  startApi,
  stopProcess,
  summary,
  waitForPoolFull,
} from './lib.mjs';

const require = createRequire(import.meta.url);
const CSS_FILE = 'src/styles/theme.css';
const INDEX = 'src/pages/index.astro';

/** Bytes of every file under a folder (the file-system object store). */
function folderBytes(dir) {
  let total = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? folderBytes(path) : statSync(path).size;
  }
  return total;
}

/** A real S3-compatible server (npm s3rver) on a loopback port, removed with the benchmark. */
async function startS3() {
  const S3rver = require('s3rver');
  const directory = mkdtempSync(join(tmpdir(), 'bench-s3-'));
  cleanup.dirs.add(directory);
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory });
  const { port } = await server.run();
  return { endpoint: `http://127.0.0.1:${port}`, close: () => server.close().catch(() => undefined) };
}

async function startTarget({ name, port, dataDir, portRange, env }) {
  const databaseUrl = await createDatabase();
  const child = await startApi({
    databaseUrl,
    dataDir,
    poolSize: 0,
    port,
    env: { PORT_RANGE_START: String(portRange[0]), PORT_RANGE_END: String(portRange[1]), VERSION_GROUP_WINDOW_MS: '0', ...env },
  });
  const call = apiClient(port);
  const token = await newUser(call);
  const { session } = await createToFirstPage(token, { call });
  const original = (await call('GET', `/workspace/${session.id}/files/${CSS_FILE}`, { token })).body.content;
  return { name, child, databaseUrl, call, token, session, original, dataDir, put: [] };
}

async function stopTarget(target) {
  await target.call('DELETE', `/workspace/${target.session.id}`, { token: target.token }).catch(() => undefined);
  await stopProcess(target.child);
  await removeDatabase(target.databaseUrl.split('/').pop());
}

export async function benchProjects({ runs, putRuns, dataDir, browser, poolSize }) {
  const s3 = await startS3();
  log('projects: three APIs at once (versioned on the fs store, versioning off, versioned on s3rver)');
  const targets = [];
  try {
    targets.push(
      await startTarget({ name: 'off', port: 3101, dataDir: join(dataDir, 'p-off'), portRange: [8500, 8532], env: { VERSIONING: 'off' } }),
      await startTarget({ name: 'fs', port: 3102, dataDir: join(dataDir, 'p-fs'), portRange: [8533, 8565], env: {} }),
      await startTarget({
        name: 's3',
        port: 3103,
        dataDir: join(dataDir, 'p-s3'),
        portRange: [8566, 8600],
        env: {
          OBJECT_STORE: 's3',
          S3_ENDPOINT: s3.endpoint,
          S3_BUCKET: 'bench-projects',
          S3_ACCESS_KEY_ID: 'S3RVER',
          S3_SECRET_ACCESS_KEY: 'S3RVER',
        },
      }),
    );
    const fsStore = join(dataDir, 'p-fs', 'objects');
    const storedBefore = folderBytes(fsStore);
    let editedBytes = 0;
    log(`projects: files PUT x${putRuns} per API, alternating`);
    for (let i = 0; i < putRuns; i++) {
      for (const target of i % 2 === 0 ? targets : [...targets].reverse()) {
        const content = `${target.original}\n.${marker()} { color: rgb(${i % 255} 2 3); }\n`;
        const t0 = performance.now();
        const res = await target.call('PUT', `/workspace/${target.session.id}/files/${CSS_FILE}`, { token: target.token, body: { content } });
        const ms = performance.now() - t0;
        if (res.status !== 200) throw new Error(`PUT (${target.name}): ${res.status} ${JSON.stringify(res.body)}`);
        target.put.push(ms);
        if (target.name === 'fs') editedBytes += Buffer.byteLength(content);
      }
      await sleep(50);
    }
    const storedAfter = folderBytes(fsStore);
    const fsTarget = targets.find((t) => t.name === 'fs');
    const versions = (await fsTarget.call('GET', `/projects/${fsTarget.session.projectId}/versions?limit=200`, { token: fsTarget.token })).body;

    log(`projects: restore → restored text in the open preview x${runs}`);
    const restore = await measureRestore(fsTarget, browser, runs);

    const byName = Object.fromEntries(targets.map((t) => [t.name, t.put]));
    const off = median(byName.off);
    const result = {
      put: {
        unversioned: summary(byName.off),
        fs: { ...summary(byName.fs), ratioToUnversioned: ratio(median(byName.fs), off) },
        s3: { ...summary(byName.s3), ratioToUnversioned: ratio(median(byName.s3), off) },
      },
      storage: {
        edits: putRuns,
        versionsCreated: versions.filter((v) => v.kind === 'edit').length,
        bytesStoredPerEdit: Math.round((storedAfter - storedBefore) / putRuns),
        bytesWrittenPerEdit: Math.round(editedBytes / putRuns),
        projectFiles: versions[0]?.fileCount ?? null,
        projectBytes: versions[0]?.totalSize ?? null,
      },
      restore,
    };
    for (const target of targets.splice(0)) await stopTarget(target);
    await s3.close();

    if (poolSize > 0) {
      log(`projects: create of an existing project from the warm pool x${runs}, alternating with a new one`);
      result.pool = await measurePooledProject({ runs, dataDir: join(dataDir, 'p-pool'), poolSize });
    }
    return result;
  } finally {
    for (const target of targets) await stopTarget(target).catch(() => undefined);
    await s3.close();
  }
}

/**
 * Each run: an edit replaces the hero text (the page reloads with it), then a restore of version 1
 * is timed from the request to the hero text back in the page's DOM, reloaded by the dev server.
 */
async function measureRestore(target, browser, runs) {
  const { call, token, session } = target;
  const versions = (await call('GET', `/projects/${session.projectId}/versions?limit=200`, { token })).body;
  const v1 = versions.find((v) => v.number === 1);
  const original = (await call('GET', `/workspace/${session.id}/files/${INDEX}`, { token })).body.content;
  const { context, page } = await openPage(browser, session.previewUrl);
  const times = [];
  try {
    for (let i = 0; i < runs; i++) {
      const m = marker();
      await page.evaluate((value) => sessionStorage.setItem('bench-marker', value), m);
      await call('PUT', `/workspace/${session.id}/files/${INDEX}`, { token, body: { content: original.replace(HERO, m) } });
      if ((await seenAt(page, m)) === null) throw new Error('the edit before a restore never reached the page');
      await sleep(500);
      await page.evaluate((value) => {
        sessionStorage.removeItem(`bench-seen-${value}`);
        sessionStorage.setItem('bench-marker', value);
      }, HERO);
      const t0 = Date.now();
      const res = await call('POST', `/projects/${session.projectId}/versions/${v1.id}/restore`, { token });
      if (res.status !== 201) throw new Error(`restore: ${res.status} ${JSON.stringify(res.body)}`);
      const at = await seenAt(page, HERO);
      if (at !== null) times.push(Math.max(0, at - t0));
      else log('restore: the restored text was not seen within 15 s');
      await sleep(500);
    }
  } finally {
    await context.close();
  }
  return summary(times);
}

async function measurePooledProject({ runs, dataDir, poolSize }) {
  const databaseUrl = await createDatabase();
  const port = 3104;
  const child = await startApi({ databaseUrl, dataDir, poolSize, port });
  const call = apiClient(port);
  try {
    const token = await newUser(call);
    // A project whose page differs from the template: made in a session, which then ends.
    const text = `Project content ${marker()}`;
    const { session } = await createToFirstPage(token, { call });
    const index = (await call('GET', `/workspace/${session.id}/files/${INDEX}`, { token })).body.content;
    await call('PUT', `/workspace/${session.id}/files/${INDEX}`, { token, body: { content: index.replace(HERO, text) } });
    await call('DELETE', `/workspace/${session.id}`, { token });
    const project = [];
    const template = [];
    let notPooled = 0;
    for (let i = 0; i < runs; i++) {
      for (const kind of i % 2 === 0 ? ['project', 'template'] : ['template', 'project']) {
        if (!(await waitForPoolFull(databaseUrl, poolSize))) log('pool did not refill within 120 s');
        const run =
          kind === 'project'
            ? await createToFirstPage(token, { call, body: { projectId: session.projectId }, contains: text })
            : await createToFirstPage(token, { call });
        if (!run.fromPool) notPooled++;
        (kind === 'project' ? project : template).push(run.ms);
        await call('DELETE', `/workspace/${run.session.id}`, { token });
      }
    }
    return {
      project: { ...summary(project), ratioToTemplate: ratio(median(project), median(template)) },
      template: summary(template),
      notFromPool: notPooled,
    };
  } finally {
    await stopProcess(child);
    await removeDatabase(databaseUrl.split('/').pop());
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Lines of the results table. */
export function projectsMarkdown(p) {
  const f = (v, unit = ' ms') => (v === null || v === undefined ? 'n/a' : `${v}${unit}`);
  const x = (v) => (v === null || v === undefined ? 'n/a' : `${v}×`);
  const lines = [
    `| files PUT, versioning off (baseline) | ${f(p.put.unversioned.p50)} | ${f(p.put.unversioned.p95)} | | |`,
    `| files PUT with versioning, file-system store | ${f(p.put.fs.p50)} | ${f(p.put.fs.p95)} | versioning off ${f(p.put.unversioned.p50)} | ${x(p.put.fs.ratioToUnversioned)} |`,
    `| files PUT with versioning, S3 store (s3rver on loopback) | ${f(p.put.s3.p50)} | ${f(p.put.s3.p95)} | versioning off ${f(p.put.unversioned.p50)} | ${x(p.put.s3.ratioToUnversioned)} |`,
    `| bytes stored per small edit (dedup) | ${f(p.storage.bytesStoredPerEdit, ' B')} | | edited file ${f(p.storage.bytesWrittenPerEdit, ' B')}; project ${p.storage.projectFiles} files, ${f(p.storage.projectBytes, ' B')} | ${p.storage.versionsCreated} versions for ${p.storage.edits} edits |`,
    `| restore → restored text in the open preview's DOM | ${f(p.restore.p50)} | ${f(p.restore.p95)} | | |`,
  ];
  if (p.pool) {
    lines.push(
      `| create of an existing project from the warm pool → first full page with its own content | ${f(p.pool.project.p50)} | ${f(p.pool.project.p95)} | new project (template) from the pool ${f(p.pool.template.p50)} | ${x(p.pool.project.ratioToTemplate)} |`,
    );
  }
  return lines;
}

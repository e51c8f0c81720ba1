/**
 * The compile verdict of a write, measured against baselines run in the same process, for a
 * markup edit (src/pages/index.astro: its page is rendered) and a style edit (src/styles/theme.css:
 * its module URL is compiled):
 * - `PUT .../files/<path>?verify=true` → answer, against the same PUT without verify (which
 *   answers before the verdict, as every write did before verdicts existed);
 * - the dev server's own compile of what the verdict asks for: the file written straight into the
 *   workspace's volume (no API), then the page (or module) requested from the container's own
 *   address until it answers with the new text. It includes the dev server's file watcher, which a
 *   verdict must wait for too (a request sent before it gets the page built before the change).
 * The three alternate edit by edit on one workspace, each after the previous one's background work
 * settled, so a busy moment of the machine weighs on all of them.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  apiClient,
  containerIdOf,
  createDatabase,
  createToFirstPage,
  dockerApi,
  HERO,
  httpGet,
  log,
  marker,
  median,
  newUser,
  ratio,
  removeDatabase,
  round,
  startApi,
  stopProcess,
  summary,
} from './lib.mjs';

const PORT = 3105;
/** Its previews' ports: apart from the test suites' and the rest of the benchmark's ranges. */
const PREVIEW_PORTS = { PORT_RANGE_START: '8840', PORT_RANGE_END: '8849' };
/** Time the dev server's watcher and a write's background verdict get before the next measure. */
const SETTLE_MS = 1_500;

const KINDS = {
  markup: {
    file: 'src/pages/index.astro',
    target: '/',
    apply: (original, m) => original.replace(HERO, `${HERO} ${m}`),
  },
  style: {
    file: 'src/styles/theme.css',
    target: '/src/styles/theme.css',
    apply: (original, m) => `${original}\n.${m} { color: rgb(1 2 3); }\n`,
  },
};

export async function benchVerdict({ runs, dataDir }) {
  const databaseUrl = await createDatabase();
  const child = await startApi({ databaseUrl, dataDir, poolSize: 0, port: PORT, env: PREVIEW_PORTS });
  const call = apiClient(PORT);
  try {
    const token = await newUser(call);
    const { session } = await createToFirstPage(token, { call });
    const containerId = await containerIdOf(databaseUrl, session.id);
    const container = (await dockerApi('GET', `/containers/${containerId}/json`)).body;
    const address = Object.values(container.NetworkSettings.Networks)[0].IPAddress;
    const volume = container.Mounts.find((mount) => mount.Destination === '/app').Source;
    const result = {};
    for (const [kind, edit] of Object.entries(KINDS)) {
      const original = (await call('GET', `/workspace/${session.id}/files/${edit.file}`, { token })).body.content;
      const times = { plain: [], verify: [], compile: [], notOk: 0 };
      const measures = {
        plain: async () => {
          const t0 = performance.now();
          const res = await call('PUT', `/workspace/${session.id}/files/${edit.file}`, {
            token,
            body: { content: edit.apply(original, marker()) },
          });
          if (res.status !== 200) throw new Error(`PUT: ${res.status} ${JSON.stringify(res.body)}`);
          times.plain.push(performance.now() - t0);
        },
        verify: async () => {
          const t0 = performance.now();
          const res = await call('PUT', `/workspace/${session.id}/files/${edit.file}?verify=true`, {
            token,
            body: { content: edit.apply(original, marker()) },
          });
          if (res.status !== 200) throw new Error(`PUT verify: ${res.status} ${JSON.stringify(res.body)}`);
          if (!res.body.ok) times.notOk++;
          times.verify.push(performance.now() - t0);
        },
        compile: async () => {
          const m = marker();
          const t0 = performance.now();
          writeFileSync(join(volume, edit.file), edit.apply(original, m));
          for (;;) {
            const res = await httpGet(`http://${address}:4321${edit.target}`, { timeoutMs: 30_000 });
            if (res.status !== 200) throw new Error(`direct GET ${edit.target}: ${res.status ?? res.error}`);
            if (res.body.includes(m)) break;
            if (performance.now() - t0 > 30_000) throw new Error(`${edit.target} never showed the direct write`);
            await sleep(5);
          }
          times.compile.push(performance.now() - t0);
        },
      };
      log(`verdict: ${kind} edit, plain PUT / PUT ?verify=true / direct compile, x${runs} each, alternating`);
      const order = Object.keys(measures);
      for (let i = 0; i < runs; i++) {
        for (const name of i % 2 === 0 ? order : [...order].reverse()) {
          await measures[name]();
          await sleep(SETTLE_MS);
        }
      }
      const plain = median(times.plain);
      const compile = median(times.compile);
      const verdictCost = round(median(times.verify) - plain);
      result[kind] = {
        verify: { ...summary(times.verify), ratioToPlain: ratio(median(times.verify), plain) },
        plain: summary(times.plain),
        devServerCompile: summary(times.compile),
        verdictCostP50Ms: verdictCost,
        verdictCostRatioToCompile: ratio(verdictCost, compile),
        verifyAnsweredNotOk: times.notOk,
      };
      await call('PUT', `/workspace/${session.id}/files/${edit.file}`, { token, body: { content: original } });
      await sleep(SETTLE_MS);
    }
    await call('DELETE', `/workspace/${session.id}`, { token });
    return result;
  } finally {
    await stopProcess(child);
    await removeDatabase(databaseUrl.split('/').pop());
  }
}

/** Lines of the results table. */
export function verdictMarkdown(v) {
  const f = (value, unit = ' ms') => (value === null || value === undefined ? 'n/a' : `${value}${unit}`);
  const x = (value) => (value === null || value === undefined ? 'n/a' : `${value}×`);
  const names = { markup: '`.astro` markup edit (its page rendered)', style: 'CSS file edit (its module compiled)' };
  const lines = [];
  for (const [kind, r] of Object.entries(v)) {
    lines.push(
      `| write with verify=true → answer, ${names[kind]} | ${f(r.verify.p50)} | ${f(r.verify.p95)} | same PUT without verify ${f(r.plain.p50)} | ${x(r.verify.ratioToPlain)} |`,
      `| the verdict's cost (verify − plain, p50), ${kind} | ${f(r.verdictCostP50Ms)} | | dev server's own: file write → first answer with it ${f(r.devServerCompile.p50)} (p95 ${f(r.devServerCompile.p95)}) | ${x(r.verdictCostRatioToCompile)} |`,
    );
  }
  return lines;
}

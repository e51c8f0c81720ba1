import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../packages/nest/test/support/test-database';
import { createLocalSwarm, localSwarmUnavailable, type LocalSwarm } from '../../scripts/swarm/local-swarm.mjs';
import { launchChromium } from '../support/browser';
import { GatewaySocketWatch, previewFrame, signUp, watchViteConnections } from '../support/builder-page';
import { docker } from '../support/docker';
import { expectHotEdit } from '../support/hot-edit';
import { waitFor } from '../support/http';
import { skipOutsideCi } from '../support/skips';

/**
 * deploy/stack.yml deployed with `docker stack deploy` in a one-node swarm made on this machine
 * (scripts/swarm/local-swarm.mjs), merged with an override this file writes that replaces only
 * what cannot run here: no postgres, minio or registry image can be pulled, so those services get
 * no task (replicas 0); the API uses the host's PostgreSQL (a database of this test, reached
 * through a forwarder on the manager's address), the fs object store on a volume of the stack, and
 * the host's registry (127.0.0.1:5000) for the template image; every task's resolver is 127.0.0.1,
 * so names the swarm does not know are never asked beyond this machine. The API, web app and front
 * proxy run from their images (scripts/setup.sh test builds them). Chromium opens the builder
 * through the front proxy's published ports, all on loopback.
 */
const STACK = `b16d${process.pid}`;
const TAG = process.env.IMAGE_TAG ?? 'latest';
const REGISTRY = 'localhost:5000';
/** The web app inlines the API's origin at build time: this image is built for API_PORT (setup.sh). */
const WEB_IMAGE = process.env.STACK_WEB_IMAGE ?? `${REGISTRY}/builder-web:stack-test`;
// Ports of this file: the front proxy publishes the API on 8700 and the web app on 8701; the
// registry service, which runs no task here, still publishes its port on the routing mesh: 8705,
// not the 5000 of the host's own registry.
const API_PORT = 8700;
const WEB_PORT = 8701;
const REGISTRY_PORT = 8705;
const API_URL = `http://localhost:${API_PORT}`;
const WEB_URL = `http://localhost:${WEB_PORT}`;
/**
 * The stated window: answers 5xx (or failed connections) the status loop may see during a rolling
 * update of both API replicas. The front proxy drops a draining replica at its first 503 (its
 * readiness, checked every second, or any answer) and the replica keeps serving for DRAIN_GRACE_MS
 * after that, so none is expected; the bound allows one per replaced replica, for a request that
 * met a replica in the instant between its SIGTERM and the proxy's next look.
 */
const MAX_5XX_DURING_UPDATE = 2;
const THEME = 'src/styles/theme.css';
const ROOT = join(__dirname, '../..');
const run = promisify(execFile);
/** The variables deploy/stack.yml reads (REGISTRY: the host's registry, which the manager pulls the template from). */
const STACK_ENV = {
  DOCKER_GID: String(statSync('/var/run/docker.sock', { throwIfNoEntry: false })?.gid ?? ''),
  REGISTRY,
  TAG,
  // The workspace template of the same code as the API (its agent and the runtime speak together).
  TEMPLATE_TAG: process.env.TEMPLATE_TAG ?? 'latest',
  API_PORT: String(API_PORT),
  WEB_PORT: String(WEB_PORT),
  REGISTRY_PORT: String(REGISTRY_PORT),
  WEB_ORIGIN: WEB_URL,
  DEPLOYMENT_ID: STACK,
};

const unavailable = existsSync('/var/run/docker.sock') ? localSwarmUnavailable() : 'no Docker engine answers on /var/run/docker.sock';
if (unavailable) skipOutsideCi('stack deploy test', unavailable);

/** The override: what this machine cannot run, replaced; everything else is deploy/stack.yml's. */
function override(databaseUrl: string): string {
  const resolver = '    dns: [127.0.0.1]\n';
  return `version: '3.8'
services:
  api:
    environment:
      DATABASE_URL: '${databaseUrl}'
      OBJECT_STORE: fs
      OBJECT_STORE_DIR: /data/objects
      S3_ENDPOINT: ''
      LOG_LEVEL: warn
      WARM_POOL_SIZE: '0'
      HEALTH_INTERVAL_MS: '2000'
      START_TIMEOUT_MS: '300000'
    volumes:
      - objects:/data
${resolver}  web:
    image: ${WEB_IMAGE}
${resolver}  front:
${resolver}  postgres:
    deploy: { replicas: 0 }
  minio:
    deploy: { replicas: 0 }
  registry:
    deploy: { replicas: 0 }
volumes:
  objects:
`;
}

describe.skipIf(unavailable !== null)(
  'deploy/stack.yml in a one-node swarm (PostgreSQL, MinIO and the registry replaced by the host\'s: their images cannot be pulled here): the builder through the front proxy across a rolling update of the API',
  () => {
    let swarm: LocalSwarm | undefined;
    let db: TestDatabase | undefined;
    let browser: { browser: Browser; close: () => Promise<void> } | undefined;
    let deployed = false;
    let failed = true;
    const scratch = mkdtempSync(join(tmpdir(), 'stack-deploy-'));

    beforeAll(async () => {
      const images = [`${REGISTRY}/builder-api:${TAG}`, `${REGISTRY}/builder-front:${TAG}`, WEB_IMAGE, `${REGISTRY}/baseline-landing-template:${STACK_ENV.TEMPLATE_TAG}`];
      for (const image of images) {
        await docker('image', 'inspect', '--format', '{{.Id}}', image).catch(() => {
          throw new Error(`${image} is missing: scripts/setup.sh test builds it (scripts/images/build-app-images.sh)`);
        });
      }
      swarm = await createLocalSwarm({ workers: 0 });
      db = await createTestDatabase();
      // The task reaches the host through its gateway: a forwarder on the manager's address.
      const forwarded = await swarm.forward(swarm.managerAddr, Number(new URL(db.url).port || 5432));
      const url = new URL(db.url);
      url.hostname = swarm.managerAddr;
      url.port = String(forwarded);
      url.password = ''; // the password is the builder_db_password secret, as in production
      const secrets: Record<string, string> = {
        builder_jwt_secret: 'stack-test-secret-stack-test-secret-0123456789',
        builder_db_password: decodeURIComponent(new URL(db.url).password),
        builder_s3_access_key: 'unused-here',
        builder_s3_secret_key: 'unused-here',
      };
      for (const [name, value] of Object.entries(secrets)) {
        writeFileSync(join(scratch, name), value);
        await docker('secret', 'create', name, join(scratch, name));
      }
      writeFileSync(join(scratch, 'override.yml'), override(url.toString()));
      deployed = true;
      // The stack's variables in the CLI's environment; no image is resolved against a registry.
      await run('docker', ['stack', 'deploy', '--resolve-image', 'never', '-c', join(ROOT, 'deploy/stack.yml'), '-c', join(scratch, 'override.yml'), STACK], {
        env: { ...process.env, ...STACK_ENV },
      });
      const up = (url: string) => fetch(url, { signal: AbortSignal.timeout(5_000) }).then((r) => (r.status === 200 ? true : undefined));
      await waitFor('the API through the front proxy', () => up(`http://127.0.0.1:${API_PORT}/health/ready`), { timeoutMs: 300_000, intervalMs: 500 });
      await waitFor('the web app through the front proxy', () => up(`http://127.0.0.1:${WEB_PORT}/login`), { timeoutMs: 300_000, intervalMs: 500 });
      await waitFor('two running API tasks', async () => ((await runningTasks('api')).length === 2 ? true : undefined), { timeoutMs: 120_000, intervalMs: 500 });
      browser = await launchChromium();
    }, 15 * 60_000);

    afterAll(async () => {
      await browser?.close();
      if (failed && deployed) {
        const workspaces = (await docker('service', 'ls', '--format', '{{.Name}}', '--filter', 'name=ws-').catch(() => '')).split('\n').filter(Boolean);
        for (const service of ['api', 'front', 'web'].map((name) => `${STACK}_${name}`).concat(workspaces)) {
          console.log(`[stack deploy test] ${service} logs:\n${await docker('service', 'logs', '--tail', '60', service).catch((e) => String(e))}`);
        }
      }
      if (deployed) {
        await docker('stack', 'rm', STACK).catch(() => undefined);
        // Its volume goes once its containers have (a stopping API drains for a few seconds).
        await waitFor('the stack\'s containers to go', async () => ((await docker('ps', '-aq', '--filter', `label=com.docker.stack.namespace=${STACK}`)) === '' ? true : undefined), {
          timeoutMs: 120_000,
          intervalMs: 500,
        }).catch((error) => console.warn(`[stack deploy test] ${error}`));
        const volumes = await docker('volume', 'ls', '-q', '--filter', `label=com.docker.stack.namespace=${STACK}`).catch(() => '');
        if (volumes) await docker('volume', 'rm', ...volumes.split('\n')).catch((error) => console.warn(`[stack deploy test] ${error}`));
      }
      // The workspaces' services and networks, the secrets, then the swarm itself.
      await swarm?.destroy();
      await db?.drop();
      rmSync(scratch, { recursive: true, force: true });
    }, 5 * 60_000);

    /** Ids of a stack service's tasks that run now. */
    async function runningTasks(service: string): Promise<string[]> {
      const out = await docker('service', 'ps', '-q', '--filter', 'desired-state=running', `${STACK}_${service}`);
      const ids = out.split('\n').filter(Boolean);
      const states = await Promise.all(ids.map((id) => docker('inspect', '--format', '{{.Status.State}}', id)));
      return ids.filter((_, i) => states[i] === 'running');
    }

    it('keeps the open builder\'s preview and socket, and answers no 5xx beyond the stated window, through a rolling update of the API', async () => {
      const page: Page = await browser!.browser.newPage({ viewport: { width: 1440, height: 960 } });
      const vite = watchViteConnections(page);
      const gateway = new GatewaySocketWatch(page, API_URL);
      let viteConnections = 0;
      page.on('console', (message) => {
        if (message.text().includes('[vite] connected')) viteConnections++;
      });

      // The builder, from the web app's tasks, calling the API's: both through `front`.
      await signUp(page, WEB_URL);
      await page.locator('[data-testid="connection-state"][data-state="connected"]').waitFor({ timeout: 60_000 });
      // A first start on a busy machine (other tests share its two cores) has taken minutes.
      const ready = await gateway.next('build-status', (e) => e.step === 'ready', 360_000);
      const sessionId: string = ready.payload.sessionId;
      await (await previewFrame(page)).locator('#hero-title').waitFor({ timeout: 120_000 });
      await vite.connected(1);
      const token = await page.evaluate(() => sessionStorage.getItem('builder.accessToken'));
      expect(token).toBeTruthy();
      const socketsBefore = gateway.socketsOpened;
      const previewSocketsBefore = viteConnections;
      const oldTasks = await runningTasks('api');

      // A user's status polls through the front proxy, counted, for the whole update.
      const answers: Array<{ at: number; status: number | string }> = [];
      let polling = true;
      const poll = (async () => {
        while (polling) {
          const at = Date.now();
          const status = await fetch(`http://127.0.0.1:${API_PORT}/api/v1/workspace/${sessionId}/status`, {
            headers: { authorization: `Bearer ${token}` },
            signal: AbortSignal.timeout(10_000),
          }).then(
            async (res) => (await res.arrayBuffer(), res.status),
            (error: Error) => `failed: ${error.message}`,
          );
          answers.push({ at, status });
          await new Promise((r) => setTimeout(r, 100));
        }
      })();

      // Start-first, one task at a time, as the stack says; `--force` replaces every task.
      const started = Date.now();
      await docker('service', 'update', '--detach', '--force', `${STACK}_api`);
      let ended = '';
      await waitFor(
        'the rolling update to complete',
        async () => {
          const state = await docker('service', 'inspect', '--format', '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}', `${STACK}_api`);
          if (/rollback|paused/.test(state)) ended = state;
          return state === 'completed' || ended ? true : undefined;
        },
        { timeoutMs: 10 * 60_000, intervalMs: 1_000 },
      );
      expect(ended, 'the update rolled back or paused').toBe('');
      const newTasks = await runningTasks('api');
      expect(newTasks).toHaveLength(2);
      expect(newTasks.filter((id) => oldTasks.includes(id))).toEqual([]);
      // A few more polls on the new replicas only.
      await new Promise((r) => setTimeout(r, 3_000));
      polling = false;
      await poll;

      const bad = answers.filter((a) => typeof a.status === 'string' || a.status >= 500);
      const other = answers.filter((a) => typeof a.status === 'number' && a.status !== 200 && a.status < 500);
      console.log(
        `[stack deploy test] rolling update of 2 API replicas: ${Math.round((Date.now() - started) / 1000)} s, ` +
          `${answers.length} status reads through the front proxy, ${bad.length} 5xx or failed` +
          (bad.length ? ` (${bad.map((a) => `${a.status} at +${a.at - started} ms`).join(', ')})` : ''),
      );
      expect(other, JSON.stringify(other)).toEqual([]);
      expect(bad.length, JSON.stringify(bad)).toBeLessThanOrEqual(MAX_5XX_DURING_UPDATE);

      // The page's socket was closed by its draining replica and reconnected through the proxy to
      // a new one: the indicator says connected on a socket opened after the update began.
      console.log(`[stack deploy test] gateway sockets the page opened: ${socketsBefore} before the update, ${gateway.socketsOpened} after`);
      expect(gateway.socketsOpened).toBeGreaterThan(socketsBefore);
      await page.locator('[data-testid="connection-state"][data-state="connected"]').waitFor({ timeout: 60_000 });

      // The preview: its HMR socket went with the old replica, Vite's client found the server again
      // (through a new replica) and an edit now arrives as a hot update in the iframe.
      await vite.connected(previewSocketsBefore + 1);
      const frame = await previewFrame(page);
      const files = (path: string, init?: RequestInit) =>
        fetch(`http://127.0.0.1:${API_PORT}/api/v1/workspace/${sessionId}/files/${path}`, {
          ...init,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        });
      const theme = ((await (await files(THEME)).json()) as { content: string }).content;
      await expectHotEdit(frame, {
        write: async (n) => {
          const written = await files(THEME, { method: 'PUT', body: JSON.stringify({ content: `${theme}\n#hero-title { color: rgb(255, 100, ${n}); }\n` }) });
          expect(written.status).toBe(200);
        },
        applied: (n) => frame.evaluate((color) => getComputedStyle(document.querySelector('#hero-title')!).color === color, `rgb(255, 100, ${n})`),
      }, { timeoutMs: 30_000 });
      failed = false;
    }, 20 * 60_000);
  },
);

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/browser';
import { docker, requireDocker } from '../support/docker';
import { frameFrom, framingPageServer, readFrom } from '../support/framing';
import { waitFor } from '../support/http';
import { loopDevicesUnder, releaseLoopDevicesUnder } from '../support/loop-devices';
import { type Service, startService } from '../support/processes';

// The built API and web app with `npm start`'s ports and no PREVIEW_MODE: the product's default
// preview (the proxy), as the real builder page shows it. Ports of this file: 8321-8329.
const ROOT = join(__dirname, '../..');
const API = 'http://localhost:3000';
const WEB = 'http://localhost:3001';
const HERO = 'Build your landing page in minutes';
const DEPLOYMENT = `e2e-preview-access-${process.pid}`;

let api: Service | undefined;
let web: Service | undefined;
let foreign: Server | undefined;
let foreignOrigin = '';
let dataDir = '';
let databaseUrl = '';
let enabled = false;

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL ?? 'postgres://builder:builder@127.0.0.1:5432/builder' });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  enabled = await requireDocker('preview access in the builder');
  if (!enabled) return;
  for (const [name, url] of [['API', API], ['web app', WEB]]) {
    const taken = await fetch(url, { signal: AbortSignal.timeout(1_000) }).then(
      () => true,
      () => false,
    );
    if (taken) throw new Error(`${name} port of ${url} is in use: stop \`npm start\` (or another run) before the tests`);
  }
  for (const path of ['packages/nest/dist/main.js', 'packages/frontend/.next/BUILD_ID']) {
    if (!existsSync(join(ROOT, path))) throw new Error(`${path} is missing: run the builds first (npm test does)`);
  }
  dataDir = mkdtempSync(join(tmpdir(), 'builder-preview-access-'));
  const dbName = `builder_e2e_access_${process.pid}`;
  await adminQuery(`DROP DATABASE IF EXISTS ${dbName}`);
  await adminQuery(`CREATE DATABASE ${dbName}`);
  databaseUrl = (process.env.TEST_DATABASE_URL ?? 'postgres://builder:builder@127.0.0.1:5432/builder').replace(/\/[^/]*$/, `/${dbName}`);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'test',
    PORT: '3000',
    RUNTIME: 'docker',
    DATA_DIR: dataDir,
    DATABASE_URL: databaseUrl,
    DEPLOYMENT_ID: DEPLOYMENT,
    PORT_RANGE_START: '8321',
    PORT_RANGE_END: '8329',
    WEB_ORIGIN: WEB,
    LOG_LEVEL: 'warn',
  };
  delete env.PREVIEW_MODE;
  api = startService('api', process.execPath, ['dist/main.js'], { cwd: join(ROOT, 'packages/nest'), env });
  web = startService('web', join(ROOT, 'node_modules/.bin/next'), ['start', '-p', '3001'], {
    cwd: join(ROOT, 'packages/frontend'),
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
  });
  // Another origin on this machine, as any other local page or app would be.
  const page = await framingPageServer();
  foreign = page.server;
  foreignOrigin = page.origin;
  await waitFor('the API', async () => ((await fetch(`${API}/health`)).ok ? true : undefined), { timeoutMs: 60_000 }).catch(
    (error: Error) => {
      throw new Error(`${error.message}\n${api?.output()}`);
    },
  );
  await waitFor('the web app', async () => ((await fetch(`${WEB}/login`)).ok ? true : undefined), { timeoutMs: 60_000 });
});

afterAll(async () => {
  foreign?.close();
  await web?.stop();
  await api?.stop();
  if (enabled) {
    // What a failed run left: this deployment's containers and volumes, then their file systems.
    const filter = `label=dev.builder.deployment=${DEPLOYMENT}`;
    const containers = (await docker('ps', '-aq', '--filter', filter).catch(() => '')).split('\n').filter(Boolean);
    for (const id of containers) await docker('rm', '-f', id).catch(() => undefined);
    const volumes = (await docker('volume', 'ls', '-q', '--filter', filter).catch(() => '')).split('\n').filter(Boolean);
    for (const name of volumes) await docker('volume', 'rm', name).catch(() => undefined);
    releaseLoopDevicesUnder(dataDir);
  }
  if (databaseUrl) await adminQuery(`DROP DATABASE IF EXISTS ${databaseUrl.split('/').pop()} WITH (FORCE)`).catch(() => undefined);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('preview access in Chromium, with the real builder', () => {
  it("the builder's iframe shows the preview; another origin can neither frame it nor read it", async ({ skip }) => {
    if (!enabled) skip();
    const { browser, close } = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`${WEB}/login`);
      await page.fill('[data-testid="register-email"]', `access-${Date.now()}@example.test`);
      await page.fill('[data-testid="register-password"]', 'correct horse battery staple');
      await page.click('[data-testid="register-submit"]');
      await page.waitForURL('**/builder', { timeout: 30_000 });
      const iframe = page.locator('[data-testid="preview-iframe"]');
      const handle = await iframe.elementHandle({ timeout: 120_000 });
      const builderFrame = await handle!.contentFrame();
      await builderFrame!.locator('#hero-title', { hasText: HERO }).waitFor({ timeout: 60_000 });
      const previewUrl = (await iframe.getAttribute('src'))!;
      // The default: the session-checked proxy on the API's port, not a workspace's own port.
      expect(previewUrl).toMatch(/^http:\/\/[0-9a-f-]{36}-[a-z2-7]{26}\.preview\.localhost:3000\/$/);
      expect(loopDevicesUnder(dataDir).length).toBe(process.getuid?.() === 0 ? 1 : 0);

      expect(await frameFrom(browser, foreignOrigin, previewUrl)).toEqual({ rendered: false, refusedByCsp: true });
      const other = await browser.newPage();
      expect(await readFrom(other, foreignOrigin, previewUrl)).toMatch(/^refused: TypeError/);
      await other.close();

      // Leaving the builder ends the session: its container, volume and file system go with it.
      await page.goto('about:blank');
      await waitFor(
        'the workspace and its file system to go',
        async () => {
          const left = await docker('ps', '-aq', '--filter', `label=dev.builder.deployment=${DEPLOYMENT}`);
          return left === '' && loopDevicesUnder(dataDir).length === 0 ? true : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      );
    } finally {
      await close();
    }
  });
});

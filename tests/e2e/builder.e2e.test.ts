import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Frame, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/browser';
import { expectHotEdit } from '../support/hot-edit';
import { docker, requireDocker } from '../support/docker';
import { waitFor } from '../support/http';
import { type Service, startService } from '../support/processes';

// The whole product in a real browser: the built API (docker runtime, real PostgreSQL) on :3000
// and the built web app on :3001, the ports `npm start` uses and the web app's build expects.
const ROOT = join(__dirname, '../..');
const API = 'http://localhost:3000';
const WEB = 'http://localhost:3001';
const ARTIFACTS = join(ROOT, 'test-artifacts/e2e');
const HERO = 'Build your landing page in minutes';

let api: Service | undefined;
let web: Service | undefined;
let dataDir = '';
let dropDatabase: (() => Promise<void>) | undefined;
let enabled = false;
let shot = 0;

async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${String(++shot).padStart(2, '0')}-${name}.png`), fullPage: false });
}

async function portIsFree(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(1_000) });
    return false;
  } catch {
    return true;
  }
}

async function previewFrame(page: Page): Promise<Frame> {
  const handle = await page.locator('[data-testid="preview-iframe"]').elementHandle({ timeout: 60_000 });
  const frame = await handle!.contentFrame();
  if (!frame) throw new Error('the preview iframe has no frame');
  return frame;
}

beforeAll(async () => {
  enabled = await requireDocker('end-to-end builder test');
  if (!enabled) return;
  for (const [name, url] of [['API', API], ['web app', WEB]]) {
    if (!(await portIsFree(url))) throw new Error(`${name} port of ${url} is in use: stop \`npm start\` before the tests`);
  }
  for (const path of ['packages/nest/dist/main.js', 'packages/frontend/.next/BUILD_ID']) {
    if (!existsSync(join(ROOT, path))) throw new Error(`${path} is missing: run the builds first (npm test does)`);
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  dataDir = mkdtempSync(join(tmpdir(), 'builder-e2e-'));
  const databaseUrl = process.env.TEST_DATABASE_URL ?? 'postgres://builder:builder@127.0.0.1:5432/builder';
  const dbName = `builder_e2e_${process.pid}`;
  const admin = new (await import('pg')).Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${dbName}`);
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  dropDatabase = async () => {
    const client = new (await import('pg')).Client({ connectionString: databaseUrl });
    await client.connect();
    await client.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await client.end();
  };
  const env = {
    ...process.env,
    NODE_ENV: 'test',
    PORT: '3000',
    RUNTIME: 'docker',
    DATA_DIR: dataDir,
    DATABASE_URL: databaseUrl.replace(/\/[^/]*$/, `/${dbName}`),
    PORT_RANGE_START: '8300',
    PORT_RANGE_END: '8320',
    WEB_ORIGIN: WEB,
    LOG_LEVEL: 'warn',
  };
  api = startService('api', process.execPath, ['dist/main.js'], { cwd: join(ROOT, 'packages/nest'), env });
  web = startService('web', join(ROOT, 'node_modules/.bin/next'), ['start', '-p', '3001'], {
    cwd: join(ROOT, 'packages/frontend'),
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
  });
  await waitFor('the API', async () => ((await fetch(`${API}/health`)).ok ? true : undefined), { timeoutMs: 60_000 }).catch(
    (error: Error) => {
      throw new Error(`${error.message}\n${api?.output()}`);
    },
  );
  await waitFor('the web app', async () => ((await fetch(`${WEB}/login`)).ok ? true : undefined), { timeoutMs: 60_000 });
});

afterAll(async () => {
  await web?.stop();
  await api?.stop();
  if (enabled) {
    // Whatever the test left behind (it should be nothing) goes by our labels and this run's ports.
    const ids = (await docker('ps', '-aq', '--filter', 'label=dev.builder.managed=true', '--filter', 'publish=8300-8320').catch(() => ''))
      .split('\n')
      .filter(Boolean);
    for (const id of ids) {
      const volumes = await docker('inspect', '-f', '{{range .Mounts}}{{.Name}} {{end}}', id).catch(() => '');
      await docker('rm', '-f', id).catch(() => undefined);
      for (const volume of volumes.split(' ').filter(Boolean)) await docker('volume', 'rm', volume).catch(() => undefined);
    }
  }
  await dropDatabase?.().catch(() => undefined);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('builder end to end in Chromium', () => {
  it('signs up, previews the workspace live, hot-reloads edits, and frees it on leaving', async ({ skip }) => {
    if (!enabled) skip();
    const { browser, close } = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1440, height: 960 } });
      // Vite's client in the preview logs this once its HMR socket is open: edits made before that
      // moment would be missed by the page (a person does not type that fast; a test does).
      let hmrConnections = 0;
      page.on('console', (message) => {
        if (message.text().includes('[vite] connected')) hmrConnections++;
      });
      const hmrConnected = (atLeast: number) =>
        waitFor(`the preview's HMR socket (connection ${atLeast})`, async () => (hmrConnections >= atLeast ? true : undefined), {
          timeoutMs: 60_000,
        });
      const email = `e2e-${Date.now()}@example.test`;

      await page.goto(`${WEB}/login`);
      await page.fill('[data-testid="register-email"]', email);
      await page.fill('[data-testid="register-password"]', 'correct horse battery staple');
      await screenshot(page, 'sign-up');
      await page.click('[data-testid="register-submit"]');
      await page.waitForURL('**/builder', { timeout: 30_000 });

      // Real progress: the build steps appear while the container starts.
      await page.locator('[data-testid="build-steps"]').waitFor({ timeout: 30_000 });
      await screenshot(page, 'starting');

      await page.locator('[data-testid="session-status"]', { hasText: 'running' }).waitFor({ timeout: 120_000 });
      let frame = await previewFrame(page);
      await frame.locator('#hero-title', { hasText: HERO }).waitFor({ timeout: 60_000 });
      const previewUrl = await page.locator('[data-testid="preview-iframe"]').getAttribute('src');
      expect(new URL(previewUrl!).origin).not.toBe(new URL(WEB).origin);
      await screenshot(page, 'preview-live');

      await hmrConnected(1);

      // A page edit saved from the editor panel: Astro reloads the preview by itself.
      await page.selectOption('[data-testid="editor-file-picker"]', 'src/pages/index.astro');
      const textarea = page.locator('[data-testid="editor-textarea"]');
      await expect.poll(() => textarea.inputValue(), { timeout: 30_000 }).toContain(HERO);
      await textarea.fill((await textarea.inputValue()).replace(HERO, 'Edited in the builder'));
      await page.click('[data-testid="editor-save"]');
      await page.locator('[data-testid="editor-save-status"][data-state="saved"]').waitFor({ timeout: 30_000 });
      await waitFor(
        'the edited hero in the preview',
        async () => {
          frame = await previewFrame(page);
          const text = await frame.locator('#hero-title').textContent({ timeout: 2_000 });
          return text?.includes('Edited in the builder') ? true : undefined;
        },
        { timeoutMs: 45_000, intervalMs: 200 },
      );
      await screenshot(page, 'markup-edited');

      // A stylesheet edit applies as a hot update: a marker on the preview's window survives.
      await hmrConnected(2); // the reloaded page's own socket
      frame = await previewFrame(page);
      await page.selectOption('[data-testid="editor-file-picker"]', 'src/styles/theme.css');
      await expect.poll(() => textarea.inputValue(), { timeout: 30_000 }).toContain('.feature-card');
      const stylesheet = await textarea.inputValue();
      const hotFrame = frame;
      await expectHotEdit(hotFrame, {
        write: async (n) => {
          await textarea.fill(`${stylesheet}\n#hero-title { color: rgb(255, 200, ${n}); }\n`);
          await page.click('[data-testid="editor-save"]');
        },
        applied: (n) =>
          hotFrame.evaluate((color) => getComputedStyle(document.querySelector('#hero-title')!).color === color, `rgb(255, 200, ${n})`),
      });
      await screenshot(page, 'style-hot-updated');

      // Leaving the builder deletes the session and its container.
      const token = await page.evaluate(() => sessionStorage.getItem('builder.accessToken'));
      const sessions = (await (await fetch(`${API}/api/v1/workspace`, { headers: { authorization: `Bearer ${token}` } })).json()) as Array<{
        id: string;
        status: string;
      }>;
      const live = sessions.find((s) => s.status === 'running');
      expect(live).toBeDefined();
      const containers = await docker('ps', '-aq', '--filter', `label=dev.builder.session-id=${live!.id}`);
      expect(containers).not.toBe('');
      await page.goto('about:blank');
      await waitFor(
        'the session to end and its container to go',
        async () => {
          const res = await fetch(`${API}/api/v1/workspace/${live!.id}/status`, { headers: { authorization: `Bearer ${token}` } });
          const body = (await res.json()) as { status: string };
          const left = await docker('ps', '-aq', '--filter', `label=dev.builder.session-id=${live!.id}`);
          return body.status === 'stopped' && left === '' ? true : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      );
      const blank = await browser.newPage();
      await blank.goto(`${WEB}/login`);
      await screenshot(blank, 'after-leaving');
    } finally {
      await close();
    }
  });
});

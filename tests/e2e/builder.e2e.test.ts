import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { launchChromium } from '../support/browser';
import { API_URL, ROOT, WEB_URL, useBuilderApp } from '../support/builder-app';
import {
  GatewaySocketWatch,
  previewFrame,
  refuseStatusPolls,
  screenshots,
  signUp,
  watchViteConnections,
} from '../support/builder-page';
import { openInEditor, saveInEditor } from '../support/code-editor';
import { docker } from '../support/docker';
import { expectHotEdit } from '../support/hot-edit';
import { waitFor } from '../support/http';

// The whole product in a real browser: the built API (docker runtime, real PostgreSQL) on :3000
// and the built web app on :3001, the ports `npm start` uses and the web app's build expects.
// Ports of this file: 3000, 3001 and previews on 8300-8320.
const ARTIFACTS = join(ROOT, 'test-artifacts/e2e');
const HERO = 'Build your landing page in minutes';
const EDITED_HERO = 'Edited in the builder';

const app = useBuilderApp({ suite: 'end-to-end builder test', previewPorts: [8300, 8320] });

/** Waits until the preview's hero says `text` (the iframe's frame is looked up anew each time). */
async function heroShows(page: Page, text: string): Promise<void> {
  await waitFor(
    `"${text}" in the preview`,
    async () => {
      const frame = await previewFrame(page);
      const hero = await frame.locator('#hero-title').textContent({ timeout: 2_000 });
      return hero?.includes(text) ? true : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  );
}

describe('builder end to end in Chromium', () => {
  it('signs up, previews the workspace live, hot-reloads edits and shows build errors through the gateway socket, and frees it on leaving', async ({
    skip,
  }) => {
    if (!app.enabled) skip();
    const { browser, close } = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1440, height: 960 } });
      const screenshot = screenshots(ARTIFACTS);
      const vite = watchViteConnections(page);
      const gateway = new GatewaySocketWatch(page, API_URL);

      await signUp(page, WEB_URL, () => screenshot(page, 'sign-up'));

      // Real progress: the build steps appear while the container starts.
      await page.locator('[data-testid="build-steps"]').waitFor({ timeout: 30_000 });
      await screenshot(page, 'starting');

      // The page's one socket to the real gateway: the indicator says it is connected, and the
      // gateway streamed this session's start to it.
      await page.locator('[data-testid="connection-state"][data-state="connected"]').waitFor({ timeout: 30_000 });
      expect(gateway.socketsOpened).toBeGreaterThanOrEqual(1);
      const ready = await gateway.next('build-status', (e) => e.step === 'ready', 120_000);
      const sessionId: string = ready.payload.sessionId;
      const steps = gateway.events.filter((e) => e.event === 'build-status');
      expect(new Set(steps.map((e) => e.payload.sessionId))).toEqual(new Set([sessionId]));
      await gateway.next('status', (e) => e.sessionId === sessionId && e.status === 'running');

      await page.locator('[data-testid="session-status"]', { hasText: 'running' }).waitFor({ timeout: 60_000 });
      await (await previewFrame(page)).locator('#hero-title', { hasText: HERO }).waitFor({ timeout: 60_000 });
      const previewUrl = await page.locator('[data-testid="preview-iframe"]').getAttribute('src');
      expect(new URL(previewUrl!).origin).not.toBe(new URL(WEB_URL).origin);
      await screenshot(page, 'preview-live');

      // From here on the page's status polls are refused: hot updates and build errors are not in
      // any REST answer anyway, and now nothing but the socket can bring the page news.
      const polls = await refuseStatusPolls(page);
      const onTheWire = (event: string, path: string) =>
        gateway.next(event, (e) => e.sessionId === sessionId && (e.paths?.includes(path) || e.file === path));

      // A page edit saved from the editor panel: Astro reloads the preview by itself.
      await vite.connected(1);
      const original = await openInEditor(page, 'src/pages/index.astro', HERO);
      await saveInEditor(page, original.replace(HERO, EDITED_HERO));
      await heroShows(page, EDITED_HERO);
      await screenshot(page, 'markup-edited');

      // A stylesheet edit applies as a hot update (a marker on the preview's window survives), and
      // the dev server's report of it reaches the activity panel through the gateway socket.
      await vite.connected(2); // the reloaded page's own socket
      const frame = await previewFrame(page);
      const stylesheet = await openInEditor(page, 'src/styles/theme.css', '.feature-card');
      await expectHotEdit(frame, {
        write: (n) => saveInEditor(page, `${stylesheet}\n#hero-title { color: rgb(255, 200, ${n}); }\n`),
        applied: (n) =>
          frame.evaluate((color) => getComputedStyle(document.querySelector('#hero-title')!).color === color, `rgb(255, 200, ${n})`),
      });
      await onTheWire('hmr-update', 'src/styles/theme.css');
      await page
        .locator('[data-testid="hmr-events"] li', { hasText: 'src/styles/theme.css' })
        .filter({ hasText: 'CSS update' })
        .first()
        .waitFor({ timeout: 30_000 });
      await screenshot(page, 'style-hot-updated');

      // A syntax error saved in the page: the dev server's error reaches the page through the
      // gateway socket and the activity panel names the file.
      const markup = await openInEditor(page, 'src/pages/index.astro', EDITED_HERO);
      await saveInEditor(page, markup.replace('<main>', '<main>\n  {features.map((f) => (<p>{f.title</p>))}'));
      // Astro compiles a page when it is requested: the preview asks for it once Vite reloads it;
      // the toolbar's Reload asks again should that reload have come before the file changed.
      await waitFor(
        'the build error on the page',
        async () => {
          if (await page.locator('[data-testid="build-errors"] li', { hasText: 'src/pages/index.astro' }).count()) return true;
          await page.click('[data-testid="preview-reload"]');
          return undefined;
        },
        { timeoutMs: 60_000, intervalMs: 5_000 },
      );
      await onTheWire('error', 'src/pages/index.astro');
      await screenshot(page, 'build-error');
      console.log(`[e2e] status polls refused while the socket brought the news: ${polls.refused()}`);
      await polls.stop();

      // Fixed, the preview serves the page again.
      await saveInEditor(page, markup);
      await heroShows(page, EDITED_HERO);

      // Leaving the builder deletes the session and its container.
      const token = await page.evaluate(() => sessionStorage.getItem('builder.accessToken'));
      const containers = await docker('ps', '-aq', '--filter', `label=dev.builder.session-id=${sessionId}`);
      expect(containers).not.toBe('');
      await page.goto('about:blank');
      await waitFor(
        'the session to end and its container to go',
        async () => {
          const res = await fetch(`${API_URL}/api/v1/workspace/${sessionId}/status`, { headers: { authorization: `Bearer ${token}` } });
          const body = (await res.json()) as { status: string };
          const left = await docker('ps', '-aq', '--filter', `label=dev.builder.session-id=${sessionId}`);
          return body.status === 'stopped' && left === '' ? true : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 250 },
      );
      const blank = await browser.newPage();
      await blank.goto(`${WEB_URL}/login`);
      await screenshot(blank, 'after-leaving');
    } finally {
      await close();
    }
  });
});

import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/browser';
import { useBuilderApp, WEB_URL as WEB } from '../support/builder-app';
import { docker } from '../support/docker';
import { frameFrom, framingPageServer, readFrom } from '../support/framing';
import { waitFor } from '../support/http';
import { loopDevicesUnder } from '../support/loop-devices';

// The built API and web app with `npm start`'s ports and no PREVIEW_MODE: the product's default
// preview (the proxy), as the real builder page shows it. Ports of this file: 8321-8329.
const HERO = 'Build your landing page in minutes';

const app = useBuilderApp({ suite: 'preview access in the builder', previewPorts: [8321, 8329] });
let foreign: Server | undefined;
let foreignOrigin = '';

beforeAll(async () => {
  // Another origin on this machine, as any other local page or app would be.
  const page = await framingPageServer();
  foreign = page.server;
  foreignOrigin = page.origin;
});

afterAll(() => {
  foreign?.close();
});

describe('preview access in Chromium, with the real builder', () => {
  it("the builder's iframe shows the preview; another origin can neither frame it nor read it", async ({ skip }) => {
    if (!app.enabled) skip();
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
      expect(loopDevicesUnder(app.dataDir).length).toBe(process.getuid?.() === 0 ? 1 : 0);

      expect(await frameFrom(browser, foreignOrigin, previewUrl)).toEqual({ rendered: false, refusedByCsp: true });
      const other = await browser.newPage();
      expect(await readFrom(other, foreignOrigin, previewUrl)).toMatch(/^refused: TypeError/);
      await other.close();

      // Leaving the builder ends the session: its container, volume and file system go with it.
      await page.goto('about:blank');
      await waitFor(
        'the workspace and its file system to go',
        async () => {
          const left = await docker('ps', '-aq', '--filter', `label=dev.builder.deployment=${app.deploymentId}`);
          return left === '' && loopDevicesUnder(app.dataDir).length === 0 ? true : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      );
    } finally {
      await close();
    }
  });
});

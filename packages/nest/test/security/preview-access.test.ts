import type { Server } from 'node:http';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../../../tests/support/browser';
import { frameFrom, framingPageServer, readFrom } from '../../../../tests/support/framing';
import { requireDocker } from '../support/docker';
import { useDockerApp } from '../support/docker-app';
import { previewGet } from '../support/preview-host';
import type { TestApp } from '../support/test-app';

// Ports of this file: 8475-8479.
const PORT_RANGE = { PORT_RANGE_START: '8475', PORT_RANGE_END: '8479' };

const dockerReady = requireDocker('security-preview-access');

describe.skipIf(!dockerReady)('who may frame and read a preview (CSP frame-ancestors, CORS) in Chromium', () => {
  let web: { server: Server; origin: string };
  let foreign: { server: Server; origin: string };
  let browser: Browser | undefined;
  let proxied: TestApp;
  let direct: TestApp;
  const previews: Record<'proxy' | 'direct', string> = { proxy: '', direct: '' };

  // The web app's origin is one the test serves pages on (the real builder frames previews in
  // tests/e2e/preview-access.e2e.test.ts); the foreign origin is any other page on this machine.
  const t = useDockerApp({ ...PORT_RANGE });

  beforeAll(async () => {
    web = await framingPageServer();
    foreign = await framingPageServer();
    // PREVIEW_MODE unset: the default is the preview proxy.
    proxied = await t.startApp({ WEB_ORIGIN: web.origin });
    direct = await t.startApp({ WEB_ORIGIN: web.origin, PREVIEW_MODE: 'direct' });
    for (const [mode, app] of [['proxy', proxied], ['direct', direct]] as const) {
      const user = await app.api.newUser(`access-${mode}`);
      const created = await app.api.request('POST', '/workspace/create', { token: user.token, body: {} });
      expect(created.status).toBe(201);
      t.sessionIds.add(created.body.id);
      const session = await app.api.waitForSettled(user.token, created.body.id);
      expect(session.status).toBe('running');
      previews[mode] = session.previewUrl;
    }
    expect(previews.proxy).toMatch(/^http:\/\/[0-9a-f-]{36}-[a-z2-7]{26}\.preview\.localhost:\d+\/$/);
    expect(previews.direct).toMatch(/^http:\/\/127\.0\.0\.1:847\d$/);
    browser = (await launchChromium()).browser;
  });

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    for (const { server } of [web, foreign]) server?.close();
  });

  it('the proxy sends the frame-ancestors policy with every response, its own error answers included', async () => {
    const policy = `frame-ancestors ${web.origin}`;
    const page = await previewGet(previews.proxy, '/', { origin: foreign.origin });
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toBe(policy);
    expect(page.headers['access-control-allow-origin']).toBeUndefined();
    const asset = await previewGet(previews.proxy, '/src/styles/theme.css', { origin: web.origin });
    expect(asset.headers['content-security-policy']).toBe(policy);
    expect(asset.headers['access-control-allow-origin']).toBe(web.origin);
    const forged = new URL(previews.proxy);
    forged.hostname = forged.hostname.replace(/-[a-z2-7]{26}\./, `-${'a'.repeat(26)}.`);
    const refused = await previewGet(forged.toString());
    expect(refused.status).toBe(404);
    expect(refused.headers['content-security-policy']).toBe(policy);
  });

  for (const mode of ['proxy', 'direct'] as const) {
    it(`${mode}: a page of the web app's origin frames the preview and sees it`, async () => {
      expect(await frameFrom(browser!, web.origin, previews[mode])).toEqual({ rendered: true, refusedByCsp: false });
    });

    it(`${mode}: a page of another origin framing the same preview URL gets nothing rendered`, async () => {
      expect(await frameFrom(browser!, foreign.origin, previews[mode])).toEqual({ rendered: false, refusedByCsp: true });
    });

    it(`${mode}: a script of another origin cannot read the preview's HTML through CORS; the web app's can`, async () => {
      const page = await browser!.newPage();
      try {
        expect(await readFrom(page, foreign.origin, previews[mode])).toMatch(/^refused: TypeError/);
        expect(await readFrom(page, web.origin, previews[mode])).toMatch(/^read 200: [\s\S]*hero-title/);
      } finally {
        await page.close();
      }
    });
  }
});

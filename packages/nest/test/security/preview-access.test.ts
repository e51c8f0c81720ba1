import { createServer, type Server } from 'node:http';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../../../tests/support/browser';
import { requireDocker } from '../support/docker';
import { useDockerApp } from '../support/docker-app';
import { previewGet } from '../support/preview-host';
import type { TestApp } from '../support/test-app';

// Ports of this file: 8475-8479.
const PORT_RANGE = { PORT_RANGE_START: '8475', PORT_RANGE_END: '8479' };

const dockerReady = requireDocker('security-preview-access');

/** A page the test serves on 127.0.0.1: an iframe of `frame` when asked for `/?frame=<url>`. */
function pageServer(): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const frame = new URL(req.url ?? '/', 'http://x').searchParams.get('frame') ?? '';
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>frames a preview</title><iframe id="preview" src="${frame.replace(/"/g, '&quot;')}"></iframe>`);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, origin: `http://127.0.0.1:${(server.address() as { port: number }).port}` })),
  );
}

interface Framing {
  /** The preview's own page rendered inside the iframe. */
  rendered: boolean;
  /** Chromium's console said the frame was refused for the frame-ancestors policy. */
  refusedByCsp: boolean;
}

/** Opens `origin` framing `previewUrl` and reports what the iframe shows once it has loaded. */
async function frameFrom(browser: Browser, origin: string, previewUrl: string): Promise<Framing> {
  const page = await browser.newPage();
  try {
    let refusedByCsp = false;
    page.on('console', (message) => {
      // "Framing '<url>' violates the following Content Security Policy directive: "frame-ancestors ...". The request has been blocked."
      if (/Content Security Policy directive: "frame-ancestors /.test(message.text())) refusedByCsp = true;
    });
    await page.goto(`${origin}/?frame=${encodeURIComponent(previewUrl)}`, { waitUntil: 'load' });
    const frame = await (await page.$('#preview'))?.contentFrame();
    if (!frame) throw new Error('the iframe has no frame');
    await frame.waitForLoadState('load');
    const rendered = await frame.evaluate(`document.getElementById('hero-title') !== null`).catch(() => false);
    return { rendered: rendered === true, refusedByCsp };
  } finally {
    await page.close();
  }
}

/** From a page of `origin`, fetches `url` with CORS; answers what the script could read. */
async function readFrom(page: Page, origin: string, url: string): Promise<string> {
  await page.goto(`${origin}/`, { waitUntil: 'load' });
  return page.evaluate<string, string>(
    async (target) => {
      try {
        const answer = await fetch(target);
        return `read ${answer.status}: ${await answer.text()}`;
      } catch (error) {
        return `refused: ${String(error)}`;
      }
    },
    url,
  );
}

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
    web = await pageServer();
    foreign = await pageServer();
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

import { createServer, type Server } from 'node:http';
import type { Browser, Page } from 'playwright-core';

/**
 * A page server on 127.0.0.1 (a port of its own: an origin of its own): `/?frame=<url>` answers a
 * page with that URL in an iframe `#preview`, any other path an empty page.
 */
export function framingPageServer(): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const frame = new URL(req.url ?? '/', 'http://x').searchParams.get('frame') ?? '';
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>frames a preview</title><iframe id="preview" src="${frame.replace(/"/g, '&quot;')}"></iframe>`);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, origin: `http://127.0.0.1:${(server.address() as { port: number }).port}` })),
  );
}

export interface Framing {
  /** The preview's own page (its #hero-title) rendered inside the iframe. */
  rendered: boolean;
  /** Chromium said the frame was blocked by the preview's frame-ancestors policy. */
  refusedByCsp: boolean;
}

/** Opens a page of `origin` (see {@link framingPageServer}) framing `previewUrl`; reports what the iframe shows once loaded. */
export async function frameFrom(browser: Browser, origin: string, previewUrl: string): Promise<Framing> {
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

/** From a page of `origin`, fetches `url` with CORS; answers what the script could read, or why not. */
export async function readFrom(page: Page, origin: string, url: string): Promise<string> {
  await page.goto(`${origin}/`, { waitUntil: 'load' });
  return page.evaluate<string, string>(async (target) => {
    try {
      const answer = await fetch(target);
      return `read ${answer.status}: ${await answer.text()}`;
    } catch (error) {
      return `refused: ${String(error)}`;
    }
  }, url);
}

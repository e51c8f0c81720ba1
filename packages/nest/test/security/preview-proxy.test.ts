import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docker, leftoversOf, requireDocker } from '../support/docker';
import { useDockerApp } from '../support/docker-app';
import { previewGet } from '../support/preview-host';
import { eventually } from '../support/test-app';
import { launchChromium } from '../../../../tests/support/browser';

// Ports of this file: 8450-8454.
const PORT_RANGE = { PORT_RANGE_START: '8450', PORT_RANGE_END: '8454' };
const THEME = 'src/styles/theme.css';

const dockerReady = requireDocker('security-preview-proxy');

/** `<sessionId>-<token>` of a preview URL, and a URL with another label on the same host and port. */
function labelOf(url: string): { sessionId: string; token: string } {
  const label = new URL(url).hostname.split('.')[0];
  return { sessionId: label.slice(0, 36), token: label.slice(37) };
}
function withLabel(url: string, label: string): string {
  const parsed = new URL(url);
  parsed.hostname = [label, ...parsed.hostname.split('.').slice(1)].join('.');
  return parsed.toString();
}

/**
 * Local ports of this host's established TCP connections to `ip:port` (the API's side of its
 * connections to a dev server), read from /proc/net/tcp: addresses are little-endian hex there.
 */
function establishedTo(ip: string, port: number): Set<string> {
  const remote = `${ip
    .split('.')
    .reverse()
    .map((byte) => Number(byte).toString(16).padStart(2, '0'))
    .join('')}:${port.toString(16).padStart(4, '0')}`.toUpperCase();
  const ports = new Set<string>();
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const [, local, rem, state] = line.trim().split(/\s+/);
    if (rem === remote && state === '01') ports.add(local.split(':')[1]);
  }
  return ports;
}

/** A websocket upgrade request through the proxy; answers the status line's code. */
function upgradeStatus(previewUrl: string, origin: string): Promise<number> {
  const url = new URL(previewUrl);
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port: Number(url.port),
      path: '/',
      headers: {
        host: url.host,
        origin,
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'sec-websocket-protocol': 'vite-hmr',
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe.skipIf(!dockerReady)('authenticated preview URLs through the proxy', () => {
  const t = useDockerApp({ PREVIEW_MODE: 'proxy', ...PORT_RANGE });
  let browser: Browser | undefined;
  const users: Array<{ token: string }> = [];
  const sessions: any[] = [];

  beforeAll(async () => {
    for (const prefix of ['owner', 'other']) users.push(await t.api.newUser(prefix));
    const created = await Promise.all(
      users.map((u) => t.api.request('POST', '/workspace/create', { token: u.token, body: {} })),
    );
    for (const c of created) t.sessionIds.add(c.body.id);
    for (const [i, c] of created.entries())
      sessions.push(await t.api.waitForSettled(users[i].token, c.body.id));
    for (const s of sessions) expect(s.status).toBe('running');
  });

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
  });

  it('serves the owner its preview through the proxy', async () => {
    const [mine] = sessions;
    expect(mine.previewUrl).toMatch(
      new RegExp(`^http://${mine.id}-[A-Za-z0-9_-]+\\.preview\\.localhost:\\d+/$`),
    );
    const page = await previewGet(mine.previewUrl);
    expect(page.status).toBe(200);
    expect(page.text).toContain('hero-title');
  });

  it('reuses its connection to the dev server across proxied requests (no connection per request)', async () => {
    const [, theirs] = sessions;
    const [containerId] = (await leftoversOf([theirs.id])).containers;
    const networks = (await docker.getContainer(containerId).inspect()).NetworkSettings.Networks;
    const ip = Object.values(networks)[0].IPAddress;
    // The backend's own connections to the dev server (its HMR relay socket) are there before.
    const before = establishedTo(ip, 4321);
    const afterEach: string[][] = [];
    for (let i = 0; i < 10; i++) {
      expect((await previewGet(theirs.previewUrl, '/src/styles/theme.css')).status).toBe(200);
      afterEach.push([...establishedTo(ip, 4321)].filter((port) => !before.has(port)));
    }
    // Ten requests, one upstream connection, still open after each: without a keep-alive agent each
    // request opened its own and the dev server closed it (~3 ms more per proxied request).
    expect(afterEach.every((ports) => ports.length === 1)).toBe(true);
    expect(new Set(afterEach.flat()).size).toBe(1);
  });

  it("refuses another session's label (this session's id with the other session's token): 404", async () => {
    const [mine, theirs] = sessions;
    const mixed = withLabel(mine.previewUrl, `${mine.id}-${labelOf(theirs.previewUrl).token}`);
    const answer = await previewGet(mixed);
    expect(answer.status).toBe(404);
    expect(JSON.parse(answer.text).message).toBe('no such preview');
  });

  it('refuses a forged token: 404', async () => {
    const [mine] = sessions;
    const forged = withLabel(
      mine.previewUrl,
      `${mine.id}-${'A'.repeat(labelOf(mine.previewUrl).token.length)}`,
    );
    const answer = await previewGet(forged);
    expect(answer.status).toBe(404);
    expect(JSON.parse(answer.text).message).toBe('no such preview');
  });

  it('refuses a websocket upgrade from a foreign origin: 403', async () => {
    const [mine] = sessions;
    expect(await upgradeStatus(mine.previewUrl, 'http://evil.example')).toBe(403);
  });

  it('HMR works through the proxy in Chromium: a CSS change applies without a reload', async () => {
    const [mine] = sessions;
    browser = (await launchChromium()).browser;
    const page = await browser.newPage();
    const hmrSocket = new Promise<string>((resolve) => page.on('websocket', (ws) => resolve(ws.url())));
    await page.goto(mine.previewUrl, { waitUntil: 'load' });
    expect(new URL(await hmrSocket).host).toBe(new URL(mine.previewUrl).host);
    // Expressions as strings: this package compiles without the DOM library.
    const colorOfTitle = () =>
      page.evaluate<string>(`getComputedStyle(document.getElementById('hero-title')).color`);
    const before = await colorOfTitle();
    await page.evaluate('window.__marker = 42');
    // Idle longer than the proxy keeps an idle upstream connection: the HMR socket must not go with it.
    await sleep(5_000);

    const theme = await t.api.request('GET', `/workspace/${mine.id}/files/${THEME}`, {
      token: users[0].token,
    });
    expect(theme.status).toBe(200);
    const put = await t.api.request('PUT', `/workspace/${mine.id}/files/${THEME}`, {
      token: users[0].token,
      body: { content: `${theme.body.content}\n#hero-title { color: rgb(1, 2, 3); }\n` },
    });
    expect(put.status).toBe(200);
    const changedAt = Date.now();
    expect(await eventually(async () => (await colorOfTitle()) === 'rgb(1, 2, 3)', 20_000, 100)).toBe(true);
    console.log(
      `[measure] CSS change visible through the proxy after ${Date.now() - changedAt} ms (was ${before})`,
    );
    expect(await page.evaluate<number>('window.__marker')).toBe(42);
  });

  it('refuses the preview of an ended session: 410', async () => {
    const [, theirs] = sessions;
    expect((await previewGet(theirs.previewUrl)).status).toBe(200);
    expect((await t.api.request('DELETE', `/workspace/${theirs.id}`, { token: users[1].token })).status).toBe(
      204,
    );
    const answer = await previewGet(theirs.previewUrl);
    expect(answer.status).toBe(410);
    expect(JSON.parse(answer.text).message).toMatch(/ended/);
  });
});

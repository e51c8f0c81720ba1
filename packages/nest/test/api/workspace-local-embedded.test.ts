import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanUp } from '../../../../tests/support/clean-up';
import { eventually, fetchPreview, portIsBound, startTestApp, type TestApp } from '../support/test-app';

// Ports of this file: 8005-8009.
// Previews on their published ports (PREVIEW_MODE=direct): Node's fetch reads them at 127.0.0.1,
// where it cannot resolve the proxy's *.preview.localhost names.
const TEST_ENV = { PORT_RANGE_START: '8005', PORT_RANGE_END: '8009', PREVIEW_MODE: 'direct' };
const LANDING_TEXT = 'Build your landing page in minutes';

describe('workspace lifecycle on the local runtime and the embedded database', () => {
  let dataDir: string;
  let t: TestApp;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'builder-local-'));
    t = await startTestApp({ DATABASE_URL: undefined, DATA_DIR: dataDir, RUNTIME: 'local', ...TEST_ENV });
  });

  afterAll(() => cleanUp([() => t?.close(), () => dataDir && rmSync(dataDir, { recursive: true, force: true })]));

  it('keeps its data under DATA_DIR/pglite and holds a lock on it', async () => {
    expect(existsSync(join(dataDir, 'pglite'))).toBe(true);
    expect(existsSync(join(dataDir, 'pglite.lock'))).toBe(true);
    // A second backend on the same folder is refused with a message, not a corrupted database.
    await expect(
      startTestApp({ DATABASE_URL: undefined, DATA_DIR: dataDir, RUNTIME: 'local', ...TEST_ENV }),
    ).rejects.toThrow(/in use by process/);
  });

  it('create → running → preview serves the page → a file PUT changes it → delete removes everything', async () => {
    const user = await t.api.newUser('local');
    const wrongLogin = await t.api.request('POST', '/auth/login', {
      body: { email: user.email, password: 'nope nope' },
    });
    expect(wrongLogin.status).toBe(401);

    const startedAt = Date.now();
    const created = await t.api.request('POST', '/workspace/create', { token: user.token, body: {} });
    expect(created.status).toBe(201);
    const session = created.body;
    expect(session.status).toBe('creating');
    expect(session.port).toBeGreaterThanOrEqual(8005);
    expect(session.port).toBeLessThanOrEqual(8009);

    const running = await t.api.waitForSettled(user.token, session.id);
    console.log(`[measure] local create → running: ${Date.now() - startedAt} ms`);
    expect(running.errorMessage).toBeNull();
    expect(running.status).toBe('running');
    expect((await fetchPreview(running.previewUrl)).text).toContain(LANDING_TEXT);

    const workspaceDir = join(dataDir, 'workspaces', session.id);
    expect(existsSync(join(workspaceDir, 'src/pages/index.astro'))).toBe(true);

    const original = await t.api.request('GET', `/workspace/${session.id}/files/src/pages/index.astro`, {
      token: user.token,
    });
    const marker = `Edited locally ${Date.now()}`;
    const put = await t.api.request('PUT', `/workspace/${session.id}/files/src/pages/index.astro`, {
      token: user.token,
      body: { content: original.body.content.replace(LANDING_TEXT, marker) },
    });
    expect(put.status).toBe(200);
    expect(
      await eventually(async () => (await fetchPreview(running.previewUrl)).text.includes(marker), 20_000),
    ).toBe(true);

    expect((await t.api.request('DELETE', `/workspace/${session.id}`, { token: user.token })).status).toBe(
      204,
    );
    const after = await t.api.request('GET', `/workspace/${session.id}/status`, { token: user.token });
    expect(after.body.status).toBe('stopped');
    expect(existsSync(workspaceDir)).toBe(false);
    expect(await eventually(async () => !(await portIsBound(session.port)), 30_000)).toBe(true);
  });

  it('data survives a restart of the backend, and shutdown leaves no running local session', async () => {
    const user = await t.api.newUser('persist');
    const created = await t.api.request('POST', '/workspace/create', { token: user.token });
    const running = await t.api.waitForSettled(user.token, created.body.id);
    expect(running.status).toBe('running');

    await t.close();
    expect(existsSync(join(dataDir, 'pglite.lock'))).toBe(false);
    expect(await eventually(async () => !(await portIsBound(running.port)), 10_000)).toBe(true);

    t = await startTestApp({ DATABASE_URL: undefined, DATA_DIR: dataDir, RUNTIME: 'local', ...TEST_ENV });
    const login = await t.api.request('POST', '/auth/login', { body: { email: user.email, password: user.password } });
    expect(login.status).toBe(200);
    const status = await t.api.request('GET', `/workspace/${created.body.id}/status`, {
      token: login.body.accessToken,
    });
    expect(status.body).toMatchObject({ status: 'stopped', port: null });
  });
});

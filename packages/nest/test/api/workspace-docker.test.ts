import { describe, expect, it } from 'vitest';
import { containerExists, leftoversOf, requireDocker, volumeExists } from '../support/docker';
import { useDockerApp } from '../support/docker-app';
import { eventually, fetchPreview, portIsBound } from '../support/test-app';

// Ports of this file: 8000-8004 (other files use other ranges; the runtime suites use 8050-8099).
// Previews on their published ports (PREVIEW_MODE=direct): Node's fetch reads them at 127.0.0.1,
// where it cannot resolve the proxy's *.preview.localhost names.
const TEST_ENV = { PORT_RANGE_START: '8000', PORT_RANGE_END: '8004', PREVIEW_MODE: 'direct' };
const LANDING_TEXT = 'Build your landing page in minutes';

const dockerReady = requireDocker('workspace-docker');

describe.skipIf(!dockerReady)('workspace lifecycle on Docker and PostgreSQL', () => {
  const t = useDockerApp(TEST_ENV);

  it('registers, logs in and answers me', async () => {
    const email = `Ada.${Date.now()}@Example.com`;
    const registered = await t.api.request('POST', '/auth/register', {
      body: { email, password: 'correct horse' },
    });
    expect(registered.status).toBe(201);
    expect(typeof registered.body.accessToken).toBe('string');

    const duplicate = await t.api.request('POST', '/auth/register', {
      body: { email: email.toLowerCase(), password: 'another password' },
    });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.message).toMatch(/already exists/);

    const login = await t.api.request('POST', '/auth/login', { body: { email, password: 'correct horse' } });
    expect(login.status).toBe(200);
    const wrong = await t.api.request('POST', '/auth/login', { body: { email, password: 'wrong horse' } });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatchObject({ statusCode: 401, error: 'Unauthorized', path: '/api/v1/auth/login' });

    const me = await t.api.request('GET', '/auth/me', { token: login.body.accessToken });
    expect(me.status).toBe(200);
    expect(me.body.email).toBe(email.toLowerCase());
  });

  it('create → running → preview serves the page → a file PUT changes it → delete removes everything', async () => {
    const user = await t.api.newUser('docker');
    const startedAt = Date.now();
    const created = await t.api.request('POST', '/workspace/create', { token: user.token, body: {} });
    expect(created.status).toBe(201);
    const session = created.body;
    t.sessionIds.add(session.id);
    expect(session).toMatchObject({ status: 'creating', templateName: 'baseline-landing' });
    expect(['queued', 'creating']).toContain(session.buildStep);
    expect(session.port).toBeGreaterThanOrEqual(8000);
    expect(session.port).toBeLessThanOrEqual(8004);
    expect(session.previewUrl).toBe(`http://127.0.0.1:${session.port}`);
    expect(session.resourceAllocation).toMatchObject({
      memoryBytes: 512 * 1024 * 1024,
      cpuShares: 512,
      cpuCores: 0.5,
    });

    const running = await t.api.waitForSettled(user.token, session.id);
    console.log(`[measure] docker create → running: ${Date.now() - startedAt} ms`);
    expect(running.errorMessage).toBeNull();
    expect(running.status).toBe('running');
    expect(running.buildStep).toBe('ready');

    const page = await fetchPreview(running.previewUrl);
    expect(page.status).toBe(200);
    expect(page.text).toContain(LANDING_TEXT);

    const rows = await t.db.query<{ container_id: string; container_name: string }>(
      'SELECT container_id, container_name FROM workspace_sessions WHERE id = $1',
      [session.id],
    );
    const containerId = rows[0].container_id;
    expect(rows[0].container_name).toMatch(new RegExp(`^workspace-${user.userId}-\\d+-${session.id.slice(0, 8)}$`));
    expect(await containerExists(containerId)).toBe(true);
    const volume = `workspace-${session.id}`;
    expect(await volumeExists(volume)).toBe(true);

    const tree = await t.api.request('GET', `/workspace/${session.id}/files`, { token: user.token });
    expect(tree.status).toBe(200);
    expect(tree.body.entries).toContainEqual(
      expect.objectContaining({ path: 'src/pages/index.astro', type: 'file' }),
    );

    const original = await t.api.request('GET', `/workspace/${session.id}/files/src/pages/index.astro`, {
      token: user.token,
    });
    expect(original.status).toBe(200);
    expect(original.body.content).toContain(LANDING_TEXT);

    const marker = `Edited through the API ${Date.now()}`;
    const edited = original.body.content.replace(LANDING_TEXT, marker);
    const put = await t.api.request('PUT', `/workspace/${session.id}/files/src/pages/index.astro`, {
      token: user.token,
      body: { content: edited },
    });
    expect(put.status).toBe(200);
    // Version 1 is the template the session's new project started from; the edit is version 2.
    expect(put.body).toEqual({
      path: 'src/pages/index.astro',
      size: Buffer.byteLength(edited),
      version: { id: expect.any(String), number: 2 },
    });
    const changed = await eventually(
      async () => (await fetchPreview(running.previewUrl)).text.includes(marker),
      20_000,
    );
    expect(changed).toBe(true);

    const deleted = await t.api.request('DELETE', `/workspace/${session.id}`, { token: user.token });
    expect(deleted.status).toBe(204);
    const after = await t.api.request('GET', `/workspace/${session.id}/status`, { token: user.token });
    expect(after.body).toMatchObject({ status: 'stopped', port: null, previewUrl: null });
    expect(await containerExists(containerId)).toBe(false);
    expect(await volumeExists(volume)).toBe(false);
    expect(await portIsBound(session.port)).toBe(false);
    const active = await t.db.query(
      `SELECT 1 FROM workspace_sessions WHERE port = $1 AND status IN ('creating', 'running', 'stopping')`,
      [session.port],
    );
    expect(active).toHaveLength(0);

    // Idempotent.
    expect((await t.api.request('DELETE', `/workspace/${session.id}`, { token: user.token })).status).toBe(
      204,
    );
    expect(await leftoversOf([session.id])).toEqual({ containers: [], volumes: [] });
  });

  it('restarts the dev server of a running session', async () => {
    const user = await t.api.newUser('restart');
    const created = await t.api.request('POST', '/workspace/create', { token: user.token });
    t.sessionIds.add(created.body.id);
    const running = await t.api.waitForSettled(user.token, created.body.id);
    expect(running.status).toBe('running');

    const restarted = await t.api.request('POST', `/workspace/${created.body.id}/restart`, {
      token: user.token,
    });
    expect(restarted.status).toBe(202);
    expect(restarted.body.status).toBe('creating');
    const again = await t.api.waitForSettled(user.token, created.body.id);
    expect(again.status).toBe('running');
    expect((await fetchPreview(again.previewUrl)).text).toContain(LANDING_TEXT);

    const list = await t.api.request('GET', '/workspace', { token: user.token });
    expect(list.body.map((s: { id: string }) => s.id)).toEqual([created.body.id]);

    expect(
      (await t.api.request('DELETE', `/workspace/${created.body.id}`, { token: user.token })).status,
    ).toBe(204);
    expect(await leftoversOf([created.body.id])).toEqual({ containers: [], volumes: [] });
  });

  it('a delete while the workspace is starting leaves nothing behind', async () => {
    const user = await t.api.newUser('early-delete');
    const created = await t.api.request('POST', '/workspace/create', { token: user.token });
    t.sessionIds.add(created.body.id);
    await new Promise((r) => setTimeout(r, 300));
    expect(
      (await t.api.request('DELETE', `/workspace/${created.body.id}`, { token: user.token })).status,
    ).toBe(204);
    // The start job notices it lost the session and removes what it had created.
    const clean = await eventually(async () => {
      const left = await leftoversOf([created.body.id]);
      return left.containers.length === 0 && left.volumes.length === 0;
    }, 30_000);
    expect(clean).toBe(true);
    const status = await t.api.request('GET', `/workspace/${created.body.id}/status`, { token: user.token });
    expect(status.body.status).toBe('stopped');
  });
  it('shutting down in the middle of creates leaves no half-created row or container', async () => {
    await t.close();
    const second = await t.startApp({ START_CONCURRENCY: '1' });
    try {
      const user = await second.api.newUser('shutdown');
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const created = await second.api.request('POST', '/workspace/create', { token: user.token });
        expect(created.status).toBe(201);
        ids.push(created.body.id);
        t.sessionIds.add(created.body.id);
      }
      await new Promise((r) => setTimeout(r, 1500)); // the first one is being created by now
    } finally {
      await second.close();
    }
    const rows = await t.db.query<{ status: string; error_message: string | null }>(
      `SELECT status, error_message FROM workspace_sessions s JOIN users u ON u.id = s.user_id WHERE u.email LIKE 'shutdown-%'`,
    );
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      expect(row.status).toBe('error');
      expect(row.error_message).toMatch(/shut down/);
    }
    expect(await leftoversOf(t.sessionIds)).toEqual({ containers: [], volumes: [] });
  });
});

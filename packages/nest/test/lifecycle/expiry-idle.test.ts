import { describe, expect, it, onTestFinished } from 'vitest';
import { leftoversOf, requireDocker } from '../support/docker';
import { useDockerApp } from '../support/docker-app';
import { previewGet } from '../support/preview-host';
import { eventually, portIsBound } from '../support/test-app';

// Ports of this file: 8400-8409.
const PORT_RANGE = { PORT_RANGE_START: '8400', PORT_RANGE_END: '8409' };
const IDLE_SECONDS = 20;
// Room for the idle stop to land late on a loaded machine (seen: 38 s after a 20 s timeout, the
// container's stop included) while the busy session has not reached its lifetime yet.
const TTL_SECONDS = 120;

const dockerReady = requireDocker('lifecycle-expiry-idle');

describe.skipIf(!dockerReady)('expiry and idle stop (short intervals)', () => {
  const t = useDockerApp({
    PREVIEW_MODE: 'proxy',
    SESSION_TTL_SECONDS: String(TTL_SECONDS),
    IDLE_TIMEOUT_SECONDS: String(IDLE_SECONDS),
    LIFECYCLE_INTERVAL_MS: '1000',
    // Every request's activity is written: at the default (at most every 15 s) against a 20 s idle
    // timeout, the busy session would live only if a preview request landed in a 5 s window, which
    // a loaded machine (each request renders the page under the workspace's CPU quota) can miss.
    ACTIVITY_WRITE_INTERVAL_MS: '0',
    ...PORT_RANGE,
  });

  /** The row as stored, read without touching the session (the API's status call counts as activity). */
  async function row(id: string): Promise<{ status: string; port: number | null; error_message: string | null; container_id: string | null }> {
    const [found] = await t.db.query<{ status: string; port: number | null; error_message: string | null; container_id: string | null }>(
      'SELECT status, port, error_message, container_id FROM workspace_sessions WHERE id = $1',
      [id],
    );
    return found;
  }

  it('stops an idle session, keeps one whose preview is used, and expires it at its lifetime', { timeout: 600_000 }, async () => {
    const idleUser = await t.api.newUser('idle');
    const busyUser = await t.api.newUser('busy');
    const [idle, busy] = await Promise.all(
      [idleUser, busyUser].map(async (user) => {
        const created = await t.api.request('POST', '/workspace/create', { token: user.token, body: {} });
        t.sessionIds.add(created.body.id);
        expect(created.status).toBe(201);
        return created.body;
      }),
    );
    const [idleRunning, busyRunning] = await Promise.all([
      t.api.waitForSettled(idleUser.token, idle.id),
      t.api.waitForSettled(busyUser.token, busy.id),
    ]);
    expect(idleRunning.status).toBe('running');
    expect(busyRunning.status).toBe('running');
    const idleRow = await row(idle.id);
    const busyCreatedAt = Date.parse(busyRunning.createdAt);
    const lastApiCallAt = Date.now();

    // Preview traffic on the busy session only, through the proxy: a request every 2 s, each
    // counting when it arrives, without waiting for the one before (a render can take longer than
    // the idle timeout on a loaded machine).
    let traffic = true;
    onTestFinished(() => {
      traffic = false; // also when an assertion failed on the way
    });
    const pages: Array<Promise<number>> = [];
    const loop = (async () => {
      while (traffic) {
        pages.push(previewGet(busyRunning.previewUrl).then((r) => r.status, () => 0));
        await new Promise((r) => setTimeout(r, 2_000));
      }
    })();

    const [{ last_activity_at: lastActivity }] = await t.db.query<{ last_activity_at: Date }>(
      'SELECT last_activity_at FROM workspace_sessions WHERE id = $1',
      [idle.id],
    );
    expect(await eventually(async () => (await row(idle.id)).status === 'stopped', (IDLE_SECONDS + 60) * 1000, 500)).toBe(true);
    console.log(
      `[measure] idle session stopped ${Date.now() - lastActivity.getTime()} ms after its last activity (idle timeout ${IDLE_SECONDS} s)`,
    );
    const idleEnded = await row(idle.id);
    expect(idleEnded.error_message).toMatch(/^idle: /);
    expect(idleEnded.port).toBeNull();
    expect(await leftoversOf([idle.id])).toEqual({ containers: [], volumes: [] });
    expect(await portIsBound(idleRunning.port)).toBe(false);
    expect(idleRow.container_id).not.toBeNull();

    // The busy one outlived the idle timeout thanks to its preview traffic.
    expect((await row(busy.id)).status).toBe('running');
    expect(Date.now() - busyCreatedAt).toBeGreaterThan(IDLE_SECONDS * 1000);
    // Its preview traffic is what counted: its last activity is well after the test's last API
    // call on it. (A request counts when it arrives; how many pages were served by now depends on
    // the machine's load, each being rendered under the workspace's CPU quota.)
    const [{ last_activity_at: busyActivity }] = await t.db.query<{ last_activity_at: Date }>(
      'SELECT last_activity_at FROM workspace_sessions WHERE id = $1',
      [busy.id],
    );
    expect(busyActivity.getTime()).toBeGreaterThan(lastApiCallAt + 1_000);

    // ...until its lifetime ends.
    expect(await eventually(async () => (await row(busy.id)).status === 'stopped', TTL_SECONDS * 1000, 500)).toBe(true);
    traffic = false;
    await loop;
    // Traffic really reached the dev server.
    expect(await Promise.all(pages)).toContain(200);
    console.log(`[measure] busy session expired ${Date.now() - busyCreatedAt} ms after creation (TTL ${TTL_SECONDS} s)`);
    const busyEnded = await t.api.request('GET', `/workspace/${busy.id}/status`, { token: busyUser.token });
    expect(busyEnded.body).toMatchObject({ status: 'stopped', port: null, previewUrl: null });
    expect(busyEnded.body.errorMessage).toMatch(/^expired: /);
    expect(await leftoversOf([busy.id])).toEqual({ containers: [], volumes: [] });
    expect(await portIsBound(busyRunning.port)).toBe(false);
    // The ended preview answers 410.
    expect((await previewGet(busyRunning.previewUrl)).status).toBe(410);

    const metrics = await (await fetch(`${t.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/builder_reconcile_actions_total\{action="idle"\} 1/);
    expect(metrics).toMatch(/builder_reconcile_actions_total\{action="expired"\} 1/);
  });
});

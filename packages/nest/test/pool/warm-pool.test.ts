import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WarmPoolService } from '../../src/modules/workspace/pool/warm-pool.service';
import { POOL_USER_ID } from '../../src/modules/workspace/pool/warm-pool.constants';
import { DOCKER_SOCKET, TEMPLATE_IMAGE, containerExists, docker, removeLeftovers, requireDocker } from '../support/docker';
import { cleanUp } from '../../../../tests/support/clean-up';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { eventually, startTestApp, type TestApp } from '../support/test-app';

// Ports of this file: 8500-8509 (the benchmark uses 8500-8600 and never runs beside the tests).
// Previews on their published ports (PREVIEW_MODE=direct): Node's fetch reads them at 127.0.0.1,
// where it cannot resolve the proxy's *.preview.localhost names.
const TEST_ENV = { PORT_RANGE_START: '8500', PORT_RANGE_END: '8509', PREVIEW_MODE: 'direct' };
const LANDING_TEXT = 'Build your landing page in minutes';

const dockerReady = requireDocker('warm-pool');

interface SessionRow {
  id: string;
  user_id: string;
  status: string;
  container_id: string | null;
}

describe.skipIf(!dockerReady)('warm pool on Docker and PostgreSQL', () => {
  let db: TestDatabase;
  let t: TestApp | undefined;
  const sessionIds = new Set<string>();
  const env = (size: number) => ({
    DATABASE_URL: db.url,
    RUNTIME: 'docker',
    DOCKER_SOCKET,
    TEMPLATE_IMAGE,
    WARM_POOL_SIZE: String(size),
    START_CONCURRENCY: '2',
    MAX_SESSIONS_PER_USER: '3',
    ...TEST_ENV,
  });
  const allSessions = () => db.query<SessionRow>(`SELECT id, user_id, status, container_id FROM workspace_sessions`);
  const poolFull = async (pool: WarmPoolService, size: number) => (await pool.size()).running === size;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(() =>
    cleanUp([
      () => t?.close(),
      async () => {
        for (const row of await allSessions()) sessionIds.add(row.id);
      },
      () => removeLeftovers(sessionIds),
      () => db?.drop(),
    ]),
  );

  it('with WARM_POOL_SIZE=0, a create is an ordinary cold start', async () => {
    t = await startTestApp(env(0));
    const user = await t.api.newUser('cold');
    const created = await t.api.request('POST', '/workspace/create', { token: user.token, body: {} });
    sessionIds.add(created.body.id);
    expect(created.status).toBe(201);
    expect(created.body.status).toBe('creating');
    const running = await t.api.waitForSettled(user.token, created.body.id);
    expect(running.status).toBe('running');
    expect(await db.query(`SELECT 1 FROM workspace_sessions WHERE user_id = $1`, [POOL_USER_ID])).toHaveLength(0);
    expect((await t.api.request('DELETE', `/workspace/${created.body.id}`, { token: user.token })).status).toBe(204);

    // A pooled row left by a crash whose container is gone: the next start-up must end it.
    await db.query(
      `INSERT INTO workspace_sessions (id, user_id, container_id, container_name, port, status, template_name,
         expires_at, resource_allocation, preview_token)
       VALUES ('11111111-1111-4111-8111-111111111111', $1, 'gone0000container', 'workspace-pool-lost', 8509, 'running',
         'baseline-landing', now() + interval '1 hour', '{}'::jsonb, 'lost-token')`,
      [POOL_USER_ID],
    );
    await t.close();
    t = undefined;
  });

  it('at start-up ends pooled rows whose workspaces are gone and fills the pool', async () => {
    t = await startTestApp(env(2));
    const pool = t.app.get(WarmPoolService);
    expect(await eventually(() => poolFull(pool, 2), 90_000, 500)).toBe(true);
    const [lost] = await db.query<SessionRow>(
      `SELECT id, user_id, status, container_id FROM workspace_sessions WHERE id = '11111111-1111-4111-8111-111111111111'`,
    );
    // Ended by the pool's start-up clean-up (stopped) or, if the reconciler's first round saw it
    // first, as a vanished workspace (error): never counted as pooled again.
    expect(['stopped', 'error']).toContain(lost.status);
    for (const row of await allSessions()) sessionIds.add(row.id);
  });

  it('a create claims a pooled workspace: 201 running, and the preview serves the page at once', async () => {
    const api = t!.api;
    const user = await api.newUser('warm');
    const startedAt = Date.now();
    const created = await api.request('POST', '/workspace/create', { token: user.token, body: {} });
    const answeredMs = Date.now() - startedAt;
    sessionIds.add(created.body.id);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ status: 'running', buildStep: 'ready', queuePosition: null });
    expect(created.body.previewUrl).toMatch(/^http:\/\/127\.0\.0\.1:85\d\d$/);
    const page = await fetch(created.body.previewUrl);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain(LANDING_TEXT);
    expect(html).toContain('</html>');
    console.info(`[warm-pool] create answered in ${answeredMs} ms; page served ${Date.now() - startedAt} ms after the request`);

    // The user's limits hold: CPU quota and weight of the configuration, not the pool's.
    const [row] = await db.query<SessionRow>(`SELECT id, user_id, status, container_id FROM workspace_sessions WHERE id = $1`, [
      created.body.id,
    ]);
    expect(row.user_id).toBe(user.userId);
    const limitsApplied = async () => {
      const info = await docker.getContainer(row.container_id!).inspect();
      return info.HostConfig.CpuQuota === 500_000 && info.HostConfig.CpuPeriod === 1_000_000 && info.HostConfig.CpuShares === 512;
    };
    expect(await eventually(limitsApplied, 10_000, 100)).toBe(true);

    // The quota counts the user's sessions only; the pool is not theirs.
    const list = await api.request('GET', '/workspace', { token: user.token });
    expect(list.body.map((s: { id: string }) => s.id)).toEqual([created.body.id]);
  });

  it('the pool refills after a claim', async () => {
    const pool = t!.app.get(WarmPoolService);
    expect(await eventually(() => poolFull(pool, 2), 90_000, 500)).toBe(true);
  });

  it('concurrent creates never share a workspace (the pool serves two, the third starts cold)', async () => {
    const api = t!.api;
    const users = await Promise.all([1, 2, 3].map(() => api.newUser('race')));
    const created = await Promise.all(users.map((u) => api.request('POST', '/workspace/create', { token: u.token, body: {} })));
    for (const c of created) sessionIds.add(c.body.id);
    for (const c of created) expect(c.status).toBe(201);
    expect(new Set(created.map((c) => c.body.id)).size).toBe(3);
    expect(created.filter((c) => c.body.status === 'running')).toHaveLength(2);
    expect(created.filter((c) => c.body.status === 'creating')).toHaveLength(1);

    const settled = await Promise.all(users.map((u, i) => api.waitForSettled(u.token, created[i].body.id)));
    expect(settled.map((s) => s.status)).toEqual(['running', 'running', 'running']);
    const rows = await db.query<SessionRow>(
      `SELECT id, user_id, status, container_id FROM workspace_sessions WHERE id = ANY($1::uuid[])`,
      [created.map((c) => c.body.id)],
    );
    expect(new Set(rows.map((r) => r.container_id)).size).toBe(3);
    for (const [i, u] of users.entries()) {
      expect(rows.find((r) => r.id === created[i].body.id)?.user_id).toBe(u.userId);
    }
    // Every active container backs exactly one active row.
    const active = await db.query<SessionRow>(
      `SELECT id, user_id, status, container_id FROM workspace_sessions WHERE status IN ('creating', 'running', 'stopping')`,
    );
    const containers = active.map((r) => r.container_id).filter(Boolean);
    expect(new Set(containers).size).toBe(containers.length);
    for (const u of users.entries()) {
      await api.request('DELETE', `/workspace/${created[u[0]].body.id}`, { token: u[1].token });
    }
  });

  it("a claimed workspace holds only the template's files: A's file is not in B's next claim", async () => {
    const api = t!.api;
    const pool = t!.app.get(WarmPoolService);
    expect(await eventually(() => poolFull(pool, 2), 90_000, 500)).toBe(true);
    const [a, b] = [await api.newUser('iso-a'), await api.newUser('iso-b')];

    const createdA = await api.request('POST', '/workspace/create', { token: a.token, body: {} });
    sessionIds.add(createdA.body.id);
    expect(createdA.body.status).toBe('running');
    const filesA = await api.request('GET', `/workspace/${createdA.body.id}/files`, { token: a.token });
    const put = await api.request('PUT', `/workspace/${createdA.body.id}/files/src/secret-of-a.txt`, {
      token: a.token,
      body: { content: 'only for A' },
    });
    expect(put.status).toBe(200);
    // A ends the session; B claims next (the other pooled workspace, or the refill of A's).
    expect((await api.request('DELETE', `/workspace/${createdA.body.id}`, { token: a.token })).status).toBe(204);

    const createdB = await api.request('POST', '/workspace/create', { token: b.token, body: {} });
    sessionIds.add(createdB.body.id);
    expect(createdB.body.status).toBe('running');
    expect(createdB.body.id).not.toBe(createdA.body.id);
    const filesB = await api.request('GET', `/workspace/${createdB.body.id}/files`, { token: b.token });
    const paths = (entries: Array<{ path: string; type: string }>) =>
      entries.filter((e) => e.type === 'file').map((e) => e.path).sort();
    expect(paths(filesB.body.entries)).not.toContain('src/secret-of-a.txt');
    expect(paths(filesB.body.entries)).toEqual(paths(filesA.body.entries));
    // A's session is not B's: B cannot see it.
    expect((await api.request('GET', `/workspace/${createdA.body.id}/status`, { token: b.token })).status).toBe(404);
    await api.request('DELETE', `/workspace/${createdB.body.id}`, { token: b.token });
  });

  it('shutdown drains the unassigned pooled workspaces', async () => {
    const pool = t!.app.get(WarmPoolService);
    expect(await eventually(() => poolFull(pool, 2), 90_000, 500)).toBe(true);
    const pooled = await db.query<SessionRow>(
      `SELECT id, user_id, status, container_id FROM workspace_sessions WHERE user_id = $1 AND status = 'running'`,
      [POOL_USER_ID],
    );
    await t!.close();
    t = undefined;
    for (const row of pooled) expect(await containerExists(row.container_id!)).toBe(false);
    const left = await db.query(
      `SELECT 1 FROM workspace_sessions WHERE user_id = $1 AND status IN ('creating', 'running', 'stopping')`,
      [POOL_USER_ID],
    );
    expect(left).toHaveLength(0);
  });
});

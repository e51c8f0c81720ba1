import type { BuildErrorEvent, BuildStatusEvent, HMREvent } from '@builder/shared';
import { afterAll, describe, expect, it } from 'vitest';
import { WORKSPACE_LABELS } from '../../src/shared/runtime/workspace-runtime.interface';
import { type BackendProcess, useBackendProcesses } from '../support/backend-process';
import { docker, requireDocker } from '../support/docker';
import { previewGet } from '../support/preview-host';
import { eventually, type TestUser } from '../support/test-app';
import { subscribedSocket, type WorkspaceClientSocket } from '../support/workspace-socket';

const hasDocker = requireDocker('cluster/replicas');
const DEPLOYMENT_ID = `replicas-test-${process.pid}`;
const LEASE_TTL_MS = 4_000;
const LEASE_RENEW_MS = 1_000;
/** Within this a dead holder's sessions are taken over (a lease expires, then the next scan). */
const TAKEOVER_BOUND_MS = LEASE_TTL_MS + LEASE_RENEW_MS;
const { deployment: DEPLOYMENT_LABEL, sessionId: SESSION_LABEL } = WORKSPACE_LABELS;

interface Heard {
  steps: BuildStatusEvent[];
  hmr: HMREvent[];
  errors: BuildErrorEvent[];
}

function listen(heard: Heard) {
  return (socket: WorkspaceClientSocket) => {
    socket.on('build-status', (event) => heard.steps.push(event));
    socket.on('hmr-update', (event) => heard.hmr.push(event));
    socket.on('error', (event) => heard.errors.push(event));
  };
}

describe.skipIf(!hasDocker)('two API replicas on one database (Docker, PostgreSQL, socket.io clients)', () => {
  const backends = useBackendProcesses(
    'replicas',
    {
      PORT_RANGE_START: '8850',
      PORT_RANGE_END: '8899',
      DEPLOYMENT_ID,
      LEASE_TTL_MS: String(LEASE_TTL_MS),
      LEASE_RENEW_MS: String(LEASE_RENEW_MS),
      HEALTH_INTERVAL_MS: '2000',
      START_CONCURRENCY: '1',
      MAX_SESSIONS_PER_USER: '3',
      // Reconciliation runs often and calls a start stuck soon: it must still leave alone every
      // start a live replica has queued or runs.
      RECONCILE_INTERVAL_MS: '2000',
      STUCK_CREATING_MS: '5000',
    },
    [3250, 3269],
  );
  const sockets: WorkspaceClientSocket[] = [];
  let a: BackendProcess;
  let b: BackendProcess;

  afterAll(() => {
    for (const socket of sockets) socket.disconnect();
  });

  const leaseOwner = async (sessionId: string): Promise<string | null> =>
    (
      await backends.db.query<{ owner: string }>(
        `SELECT owner FROM workspace_leases WHERE name = $1 AND expires_at > now()`,
        [`session:${sessionId}`],
      )
    )[0]?.owner ?? null;

  const createOn = async (backend: BackendProcess, user: TestUser): Promise<string> => {
    const created = await backend.api.request('POST', '/workspace/create', { token: user.token, body: {} });
    expect(created.status, created.text).toBe(201);
    backends.sessionIds.add(created.body.id);
    return created.body.id as string;
  };

  const editPage = async (backend: BackendProcess, user: TestUser, id: string, edit: (page: string) => string) => {
    const page = await backend.api.request('GET', `/workspace/${id}/files/src/pages/index.astro`, { token: user.token });
    expect(page.status).toBe(200);
    const put = await backend.api.request('PUT', `/workspace/${id}/files/src/pages/index.astro`, {
      token: user.token,
      body: { content: edit(page.body.content as string) },
    });
    expect(put.status, put.text).toBe(200);
    return page.body.content as string;
  };

  it('starts two replicas', async () => {
    a = await backends.start({ REPLICA_ID: 'replica-a' });
    b = await backends.start({ REPLICA_ID: 'replica-b' });
    expect((await fetch(`http://127.0.0.1:${a.port}/health/ready`)).status).toBe(200);
  }, 240_000);

  it('a socket on replica A hears build-status, hmr-update and error of a session started and relayed by replica B', async () => {
    const user = await b.api.newUser('cross');
    const id = await createOn(b, user);
    const heard: Heard = { steps: [], hmr: [], errors: [] };
    await subscribedSocket(`http://127.0.0.1:${a.port}`, user.token, id, sockets, listen(heard));
    expect((await b.api.waitForSettled(user.token, id)).status).toBe('running');
    // The steps reached A live, or as B's replay of them when A's socket subscribed.
    expect(await eventually(async () => heard.steps.some((s) => s.step === 'ready'), 30_000)).toBe(true);
    expect(await eventually(async () => (await leaseOwner(id)) === 'replica-b', 15_000)).toBe(true);

    const previewUrl = (await b.api.request('GET', `/workspace/${id}/status`, { token: user.token })).body.previewUrl;
    expect((await previewGet(previewUrl)).status).toBe(200);
    // Edited through A: only B's relay hears the dev server, and A's socket hears it through the adapter.
    const original = await editPage(a, user, id, (page) => page.replace('<main>', '<main>\n  <p>across replicas</p>'));
    expect(await eventually(async () => heard.hmr.some((e) => e.paths.includes('src/pages/index.astro')), 60_000)).toBe(true);

    // The write's compile verdict runs on A, where it was made; the dev server's report of the
    // failure reaches B's relay too. The socket hears it once (nothing else renders the page here).
    await editPage(a, user, id, () => original.replace('<main>', '<main>\n  {[1].map((f) => (<p>{f</p>))}'));
    const broken = () => heard.errors.filter((e) => e.file === 'src/pages/index.astro');
    expect(await eventually(async () => broken().length > 0, 60_000, 100)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 3_000)); // a second copy would be here by now
    expect(broken(), JSON.stringify(heard.errors)).toHaveLength(1);

    // A late subscriber on A gets the start-up replayed from B, which ran it.
    const late: Heard = { steps: [], hmr: [], errors: [] };
    await subscribedSocket(`http://127.0.0.1:${a.port}`, user.token, id, sockets, listen(late));
    expect(await eventually(async () => late.steps.some((s) => s.step === 'ready'), 15_000)).toBe(true);

    expect((await a.api.request('DELETE', `/workspace/${id}`, { token: user.token })).status).toBe(204);
    expect(await eventually(async () => (await leaseOwner(id)) === null, 15_000)).toBe(true);
  }, 240_000);

  it('a stopped session answers 410 from both replicas at once', async () => {
    const user = await a.api.newUser('gone');
    const id = await createOn(a, user);
    expect((await a.api.waitForSettled(user.token, id)).status).toBe('running');
    const previewUrl: string = (await a.api.request('GET', `/workspace/${id}/status`, { token: user.token })).body.previewUrl;
    const on = (backend: BackendProcess) => {
      const url = new URL(previewUrl);
      url.port = String(backend.port);
      return url.toString();
    };
    // Both replicas serve it, and each caches its address now.
    expect((await previewGet(on(a))).status).toBe(200);
    expect((await previewGet(on(b))).status).toBe(200);
    expect((await b.api.request('DELETE', `/workspace/${id}`, { token: user.token })).status).toBe(204);
    const [fromA, fromB] = await Promise.all([previewGet(on(a)), previewGet(on(b))]);
    expect([fromA.status, fromB.status]).toEqual([410, 410]);
  }, 240_000);

  it('100 concurrent creates over both replicas: each session starts at most once, no port or name collision, nothing left after all are deleted', async () => {
    const creates: Array<{ id: string; user: TestUser; backend: BackendProcess }> = [];
    const users = await Promise.all(Array.from({ length: 34 }, (_, i) => (i % 2 ? a : b).api.newUser(`many${i}`)));
    const startedAt = new Date();
    const answers = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const user = users[Math.floor(i / 3)];
        const backend = i % 2 ? b : a;
        const created = await backend.api.request('POST', '/workspace/create', { token: user.token, body: {} });
        if (created.status === 201) {
          backends.sessionIds.add(created.body.id);
          creates.push({ id: created.body.id, user, backend });
        }
        return created.status;
      }),
    );
    // 50 preview ports: the rest are refused with a clear 503, never a server error.
    expect(answers.filter((status) => status !== 201 && status !== 503)).toEqual([]);
    expect(creates.length).toBeGreaterThanOrEqual(40);
    console.log(`[measure] 100 creates: ${creates.length} accepted, ${answers.length - creates.length} refused (ports)`);

    // Starts run one at a time per replica; with reconciliation calling a start stuck after 5 s,
    // the queued ones must live on until their turn.
    expect(
      await eventually(async () => {
        const rows = await backends.db.query<{ n: string }>(`SELECT count(*) AS n FROM workspace_sessions WHERE status = 'running'`);
        return Number(rows[0].n) >= 4;
      }, 180_000, 1_000),
    ).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 6_000)); // past STUCK_CREATING_MS, several reconciliations
    const failed = await backends.db.query<{ id: string; error_message: string }>(
      `SELECT id, error_message FROM workspace_sessions WHERE status = 'error'`,
    );
    expect(failed).toEqual([]);
    const running = await backends.db.query<{ port: number }>(
      `SELECT port FROM workspace_sessions WHERE status IN ('creating', 'running')`,
    );
    expect(new Set(running.map((row) => row.port)).size).toBe(running.length);

    await Promise.all(
      creates.map(async ({ id, user }, i) => {
        const deleted = await (i % 2 ? a : b).api.request('DELETE', `/workspace/${id}`, { token: user.token });
        expect(deleted.status).toBe(204);
      }),
    );
    expect(
      await eventually(async () => {
        const rows = await backends.db.query<{ n: string }>(
          `SELECT count(*) AS n FROM workspace_sessions WHERE status NOT IN ('stopped', 'error')`,
        );
        return Number(rows[0].n) === 0;
      }, 120_000, 1_000),
    ).toBe(true);
    // Every start in flight at the delete removes what it made: nothing of the deployment is left.
    const label = [`${DEPLOYMENT_LABEL}=${DEPLOYMENT_ID}`];
    expect(
      await eventually(async () => {
        const containers = await docker.listContainers({ all: true, filters: { label } });
        const volumes = (await docker.listVolumes({ filters: { label } })).Volumes ?? [];
        return containers.length + volumes.length === 0;
      }, 60_000, 1_000),
    ).toBe(true);

    // Each session's workspace was created once (a port retry would add one more, with a suffix).
    const events = await docker.getEvents({
      since: Math.floor(startedAt.getTime() / 1000),
      until: Math.ceil(Date.now() / 1000),
      filters: { type: ['container'], event: ['create'], label },
    });
    const text = await new Promise<string>((resolve, reject) => {
      let body = '';
      events.on('data', (chunk: Buffer) => (body += chunk.toString()));
      events.on('end', () => resolve(body));
      events.on('error', reject);
    });
    const createdPerSession = new Map<string, number>();
    const names = new Set<string>();
    for (const line of text.split('\n').filter(Boolean)) {
      const event = JSON.parse(line) as { Actor: { Attributes: Record<string, string> } };
      const sessionId = event.Actor.Attributes[SESSION_LABEL];
      createdPerSession.set(sessionId, (createdPerSession.get(sessionId) ?? 0) + 1);
      names.add(event.Actor.Attributes.name);
    }
    console.log(`[measure] workspaces created during the run: ${names.size} for ${createdPerSession.size} sessions`);
    expect(createdPerSession.size).toBeGreaterThanOrEqual(4);
    expect([...createdPerSession.values()].filter((n) => n > 1)).toEqual([]);
    expect(names.size).toBe([...createdPerSession.values()].reduce((sum, n) => sum + n, 0));
    const accepted = new Set(creates.map((c) => c.id));
    expect([...createdPerSession.keys()].filter((id) => !accepted.has(id))).toEqual([]);
  }, 600_000);

  it('kill -9 of the lease holder: the other replica takes over relay and health checks within the bound, and the preview keeps hot-reloading', async () => {
    const user = await a.api.newUser('takeover');
    const id = await createOn(a, user);
    expect((await a.api.waitForSettled(user.token, id)).status).toBe('running');
    expect(await eventually(async () => (await leaseOwner(id)) === 'replica-a', 15_000)).toBe(true);
    const heard: Heard = { steps: [], hmr: [], errors: [] };
    await subscribedSocket(`http://127.0.0.1:${b.port}`, user.token, id, sockets, listen(heard));
    const previewUrl: string = (await b.api.request('GET', `/workspace/${id}/status`, { token: user.token })).body.previewUrl;
    const onB = new URL(previewUrl);
    onB.port = String(b.port);

    const killedAt = Date.now();
    a.child.kill('SIGKILL');
    expect(await eventually(async () => (await leaseOwner(id)) === 'replica-b', TAKEOVER_BOUND_MS + 15_000, 200)).toBe(true);
    const tookMs = Date.now() - killedAt;
    console.log(`[measure] lease taken over ${tookMs} ms after kill -9 (bound: TTL ${LEASE_TTL_MS} + renew ${LEASE_RENEW_MS} ms)`);

    // An edit made after the kill reaches the socket: B relays the dev server now.
    expect((await previewGet(onB.toString())).status).toBe(200);
    await editPage(b, user, id, (page) => page.replace('<main>', '<main>\n  <p>after the kill</p>'));
    expect(await eventually(async () => heard.hmr.some((e) => e.paths.includes('src/pages/index.astro')), 60_000)).toBe(true);
    expect((await previewGet(onB.toString())).text).toContain('after the kill');

    // B's health checks: a workspace whose container dies is restarted by B.
    const row = (await backends.db.query<{ container_id: string }>(`SELECT container_id FROM workspace_sessions WHERE id = $1`, [id]))[0];
    await docker.getContainer(row.container_id).kill();
    expect(
      await eventually(async () => {
        const [session] = await backends.db.query<{ restart_count: number; status: string }>(
          `SELECT restart_count, status FROM workspace_sessions WHERE id = $1`,
          [id],
        );
        return session.restart_count === 1 && session.status === 'running' && (await previewGet(onB.toString())).status === 200;
      }, 120_000, 500),
    ).toBe(true);
    expect((await b.api.request('DELETE', `/workspace/${id}`, { token: user.token })).status).toBe(204);
  }, 300_000);
});

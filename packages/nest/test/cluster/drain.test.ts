import type { BuildStatusEvent, ClientToServerEvents, HMREvent, ServerToClientEvents } from '@builder/shared';
import { io, type Socket } from 'socket.io-client';
import { afterAll, describe, expect, it } from 'vitest';
import { type FrontProxy, startFrontProxy } from '../../../../scripts/front-proxy.mjs';
import { WORKSPACE_LABELS } from '../../src/shared/runtime/workspace-runtime.interface';
import { type BackendProcess, useBackendProcesses } from '../support/backend-process';
import { docker, requireDocker } from '../support/docker';
import { previewGet } from '../support/preview-host';
import { eventually } from '../support/test-app';

const hasDocker = requireDocker('cluster/drain');
const DEPLOYMENT_ID = `drain-test-${process.pid}`;
/** The defaults: a handover that waited for the lease to expire would take longer than this. */
const LEASE_TTL_MS = 10_000;
/** Long enough for the front proxy (readiness checked every second) to drop the draining replica. */
const DRAIN_GRACE_MS = 4_000;
const PAGE = 'src/pages/index.astro';

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** A socket as the web client keeps one: through the front proxy, re-subscribing on every connect. */
interface Follower {
  socket: ClientSocket;
  connects: number;
  serverDisconnects: number;
  /** Steps heard, each with the connection (1, 2, ...) it came on. */
  steps: Array<BuildStatusEvent & { connection: number }>;
  hmr: HMREvent[];
}

function follow(url: string, token: string, sessionId: string): Follower {
  const socket: ClientSocket = io(`${url}/workspace`, {
    transports: ['websocket'],
    auth: { token },
    forceNew: true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
  });
  const follower: Follower = { socket, connects: 0, serverDisconnects: 0, steps: [], hmr: [] };
  socket.on('connect', () => {
    follower.connects++;
    void socket
      .timeout(10_000)
      .emitWithAck('subscribe', { sessionId })
      .catch(() => undefined);
  });
  // A server that closes a socket on purpose is not retried by socket.io itself: the web client
  // reconnects then (packages/frontend websocket.service.ts), and so does this one.
  socket.on('disconnect', (reason) => {
    if (reason !== 'io server disconnect') return;
    follower.serverDisconnects++;
    socket.connect();
  });
  socket.on('build-status', (event) => follower.steps.push({ ...event, connection: follower.connects }));
  socket.on('hmr-update', (event) => follower.hmr.push(event));
  return follower;
}

describe.skipIf(!hasDocker)(
  'SIGTERM of a replica: drain and hand-over (two API processes, Docker, PostgreSQL, front proxy, socket.io clients)',
  () => {
    const backends = useBackendProcesses(
      'drain',
      {
        PORT_RANGE_START: '8850',
        PORT_RANGE_END: '8899',
        DEPLOYMENT_ID,
        LEASE_TTL_MS: String(LEASE_TTL_MS),
        LEASE_RENEW_MS: '3000',
        DRAIN_GRACE_MS: String(DRAIN_GRACE_MS),
        START_CONCURRENCY: '1',
      },
      [3250, 3269],
    );
    const followers: Follower[] = [];
    let proxy: FrontProxy | undefined;

    afterAll(async () => {
      for (const follower of followers) follower.socket.disconnect();
      await proxy?.close();
    });

    const leaseOwner = async (sessionId: string): Promise<string | null> =>
      (
        await backends.db.query<{ owner: string }>(
          `SELECT owner FROM workspace_leases WHERE name = $1 AND expires_at > now()`,
          [`session:${sessionId}`],
        )
      )[0]?.owner ?? null;

    it("A drains on SIGTERM: readiness 503 draining, creates 503, B takes the session at once, A's socket reconnects to B with the steps replayed and hears later edits", async () => {
      const a: BackendProcess = await backends.start({ REPLICA_ID: 'replica-a' });
      const b: BackendProcess = await backends.start({ REPLICA_ID: 'replica-b' });
      proxy = await startFrontProxy({ upstreams: [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`] });
      const front = `http://127.0.0.1:${proxy.port}`;

      const user = await a.api.newUser('drain');
      const created = await a.api.request('POST', '/workspace/create', { token: user.token, body: {} });
      expect(created.status, created.text).toBe(201);
      const id = created.body.id as string;
      backends.sessionIds.add(id);
      expect((await a.api.waitForSettled(user.token, id)).status).toBe('running');
      expect(await eventually(async () => (await leaseOwner(id)) === 'replica-a', 15_000)).toBe(true);

      // Two sockets through the proxy, one after the other: it sends them to A and to B in turn.
      followers.push(follow(front, user.token, id), follow(front, user.token, id));
      expect(
        await eventually(async () => followers.every((f) => f.steps.some((s) => s.step === 'ready')), 30_000),
      ).toBe(true);

      const exited = new Promise<number | null>((resolve) => a.child.once('exit', (code) => resolve(code)));
      const signalledAt = Date.now();
      a.child.kill('SIGTERM');

      const ready = await eventually(
        async () => {
          const res = await fetch(`http://127.0.0.1:${a.port}/health/ready`);
          return res.status === 503 && ((await res.json()) as { status: string }).status === 'draining';
        },
        DRAIN_GRACE_MS,
        50,
      );
      expect(ready, 'A answers /health/ready 503 draining while it drains').toBe(true);
      const refused = await a.api.request('POST', '/workspace/create', { token: user.token, body: {} });
      expect(refused.status, refused.text).toBe(503);
      expect(refused.body.message).toMatch(/shutting down/);

      expect(await eventually(async () => (await leaseOwner(id)) === 'replica-b', LEASE_TTL_MS, 100)).toBe(
        true,
      );
      const tookMs = Date.now() - signalledAt;
      console.log(
        `[measure] B held the lease ${tookMs} ms after SIGTERM to A (the lease's TTL: ${LEASE_TTL_MS} ms)`,
      );
      expect(tookMs).toBeLessThan(LEASE_TTL_MS);

      // The socket that was on A is closed by A once the proxy has dropped A, reconnects through the
      // proxy (to B) and gets the start-up's steps again; the one on B never noticed.
      expect(await exited).toBe(0);
      const moved = followers.filter((f) => f.serverDisconnects > 0);
      expect(moved).toHaveLength(1);
      expect(followers.filter((f) => f.serverDisconnects === 0)).toHaveLength(1);
      expect(
        await eventually(
          async () =>
            moved[0].connects === 2 && moved[0].steps.some((s) => s.connection === 2 && s.step === 'ready'),
          15_000,
        ),
      ).toBe(true);

      // An edit made after A is gone: B relays it to both sockets.
      const onB = new URL(
        (await b.api.request('GET', `/workspace/${id}/status`, { token: user.token })).body
          .previewUrl as string,
      );
      onB.port = String(b.port);
      expect((await previewGet(onB.toString())).status).toBe(200);
      const page = await b.api.request('GET', `/workspace/${id}/files/${PAGE}`, { token: user.token });
      const put = await b.api.request('PUT', `/workspace/${id}/files/${PAGE}`, {
        token: user.token,
        body: {
          content: (page.body.content as string).replace('<main>', '<main>\n  <p>after the drain</p>'),
        },
      });
      expect(put.status, put.text).toBe(200);
      expect(
        await eventually(
          async () => followers.every((f) => f.hmr.some((e) => e.paths.includes(PAGE))),
          60_000,
        ),
      ).toBe(true);

      expect((await b.api.request('DELETE', `/workspace/${id}`, { token: user.token })).status).toBe(204);
      const label = [`${WORKSPACE_LABELS.deployment}=${DEPLOYMENT_ID}`];
      expect(
        await eventually(
          async () => {
            const containers = await docker.listContainers({ all: true, filters: { label } });
            const volumes = (await docker.listVolumes({ filters: { label } })).Volumes ?? [];
            return containers.length + volumes.length === 0;
          },
          60_000,
          1_000,
        ),
      ).toBe(true);
    }, 300_000);
  },
);

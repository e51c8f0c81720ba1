import type {
  BuildErrorEvent,
  BuildStatusEvent,
  ClientToServerEvents,
  HMREvent,
  ServerToClientEvents,
  StatusEvent,
  SubscribeAck,
} from '@builder/shared';
import { JwtService } from '@nestjs/jwt';
import { io, type Socket } from 'socket.io-client';
import { afterAll, describe, expect, it } from 'vitest';
import { HmrRelayService } from '../../src/modules/workspace/hmr/hmr-relay.service';
import { requireDocker } from '../support/docker';
import { useDockerApp } from '../support/docker-app';
import { eventually } from '../support/test-app';

// Ports of this file: 8010-8014.
// Previews on their published ports (PREVIEW_MODE=direct): Node's fetch reads them at 127.0.0.1,
// where it cannot resolve the proxy's *.preview.localhost names.
const TEST_ENV = { PORT_RANGE_START: '8010', PORT_RANGE_END: '8014', PREVIEW_MODE: 'direct' };
const JWT_SECRET = 'test-secret-test-secret-test-secret-0123456789';
type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

const dockerReady = requireDocker('workspace-gateway');

/** Everything one socket heard, in order. */
interface Heard {
  buildStatus: BuildStatusEvent[];
  hmr: HMREvent[];
  status: StatusEvent[];
  errors: BuildErrorEvent[];
}

describe.skipIf(!dockerReady)('Socket.IO gateway /workspace on a real dev server', () => {
  const t = useDockerApp(TEST_ENV);
  const sockets: ClientSocket[] = [];

  function connect(token: string | undefined | null, extra: Record<string, unknown> = {}): ClientSocket {
    const socket: ClientSocket = io(`${t.baseUrl}/workspace`, {
      transports: ['websocket'],
      auth: token === undefined ? {} : { token },
      reconnection: false,
      forceNew: true,
      ...extra,
    });
    sockets.push(socket);
    return socket;
  }

  function listen(socket: ClientSocket): Heard {
    const heard: Heard = { buildStatus: [], hmr: [], status: [], errors: [] };
    socket.on('build-status', (e) => heard.buildStatus.push(e));
    socket.on('hmr-update', (e) => heard.hmr.push(e));
    socket.on('status', (e) => heard.status.push(e));
    socket.on('error', (e) => heard.errors.push(e));
    return heard;
  }

  function connected(socket: ClientSocket): Promise<void> {
    return new Promise((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', (error) => reject(error));
    });
  }

  function refusal(socket: ClientSocket): Promise<Error> {
    return new Promise((resolve, reject) => {
      socket.once('connect', () => reject(new Error('the gateway accepted the connection')));
      socket.once('connect_error', (error) => resolve(error));
    });
  }

  function subscribe(socket: ClientSocket, sessionId: unknown): Promise<SubscribeAck> {
    return socket.timeout(10_000).emitWithAck('subscribe', { sessionId } as { sessionId: string });
  }

  afterAll(() => {
    for (const socket of sockets) socket.disconnect();
  });

  it('refuses no token, a bad token and an expired token with a message', async () => {
    const none = await refusal(connect(undefined));
    expect(none.message).toMatch(/authentication required/);
    const bad = await refusal(connect('not-a-jwt'));
    expect(bad.message).toMatch(/invalid/);
    const user = await t.api.newUser('ws-expired');
    const expired = new JwtService({ secret: JWT_SECRET }).sign(
      { sub: user.userId, email: user.email, exp: Math.floor(Date.now() / 1000) - 60 },
    );
    const old = await refusal(connect(expired));
    expect(old.message).toMatch(/expired/);
  });

  it('relays the start-up steps, HMR updates, build errors and the final status to the owner only', async () => {
    const owner = await t.api.newUser('ws-owner');
    const stranger = await t.api.newUser('ws-stranger');
    const ownerSocket = connect(owner.token);
    const strangerSocket = connect(stranger.token);
    await Promise.all([connected(ownerSocket), connected(strangerSocket)]);
    const ownerHeard = listen(ownerSocket);
    const strangerHeard = listen(strangerSocket);

    const created = await t.api.request('POST', '/workspace/create', { token: owner.token, body: {} });
    expect(created.status).toBe(201);
    const id: string = created.body.id;
    t.sessionIds.add(id);

    expect(await subscribe(ownerSocket, id)).toEqual({ ok: true });
    const refused = await subscribe(strangerSocket, id);
    expect(refused.ok).toBe(false);
    expect(await subscribe(ownerSocket, 'not-a-uuid')).toEqual({ ok: false, error: 'sessionId must be a UUID' });

    // The steps arrive in order up to `ready` (a client that subscribes late may miss the first).
    expect(await eventually(async () => ownerHeard.buildStatus.some((e) => e.step === 'ready'), 120_000)).toBe(true);
    const order = ['queued', 'creating', 'pulling', 'starting', 'installing', 'ready'];
    const steps = ownerHeard.buildStatus.map((e) => e.step);
    expect(steps.at(-1)).toBe('ready');
    const positions = steps.map((s) => order.indexOf(s));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(steps).toEqual(expect.arrayContaining(['starting', 'installing', 'ready']));
    expect(ownerHeard.status.some((e) => e.status === 'running')).toBe(true);

    const relay = t.app.get(HmrRelayService);
    expect(await eventually(async () => relay.openCount === 1, 60_000)).toBe(true);

    // Open the page once, so the dev server has the page's modules in its graph.
    const running = await t.api.request('GET', `/workspace/${id}/status`, { token: owner.token });
    await fetch(running.body.previewUrl).then((r) => r.text());

    // A file PUT through the API: the dev server reports the update and the gateway relays it.
    const css = await t.api.request('GET', `/workspace/${id}/files/src/styles/theme.css`, { token: owner.token });
    const putAt = Date.now();
    const put = await t.api.request('PUT', `/workspace/${id}/files/src/styles/theme.css`, {
      token: owner.token,
      body: { content: `${css.body.content}\n.hero-extra { color: red; }\n` },
    });
    expect(put.status).toBe(200);
    expect(await eventually(async () => ownerHeard.hmr.some((e) => e.paths.includes('src/styles/theme.css')), 60_000)).toBe(
      true,
    );
    const cssUpdate = ownerHeard.hmr.find((e) => e.paths.includes('src/styles/theme.css'))!;
    expect(cssUpdate.kind).toBe('css');
    console.log(`[measure] file PUT → hmr-update relayed: ${Date.parse(cssUpdate.at) - putAt} ms`);

    // A syntax error in index.astro: an `error` naming the file; fixing it brings updates again.
    const page = await t.api.request('GET', `/workspace/${id}/files/src/pages/index.astro`, { token: owner.token });
    const original: string = page.body.content;
    await t.api.request('PUT', `/workspace/${id}/files/src/pages/index.astro`, {
      token: owner.token,
      body: { content: original.replace('<main>', '<main>\n  {features.map((f) => (<p>{f.title</p>))}') },
    });
    // Astro compiles on request: the preview is loaded as a browser would after the reload.
    await eventually(async () => {
      await fetch(running.body.previewUrl).then((r) => r.text());
      return ownerHeard.errors.length > 0;
    }, 60_000, 500);
    expect(ownerHeard.errors.length).toBeGreaterThan(0);
    expect(ownerHeard.errors[0].file).toBe('src/pages/index.astro');
    expect(ownerHeard.errors[0].message.length).toBeGreaterThan(0);

    const updatesBeforeFix = ownerHeard.hmr.length;
    await t.api.request('PUT', `/workspace/${id}/files/src/pages/index.astro`, {
      token: owner.token,
      body: { content: original.replace('Build your landing page in minutes', 'Fixed through the API') },
    });
    expect(
      await eventually(async () => ownerHeard.hmr.slice(updatesBeforeFix).some((e) => e.paths.includes('src/pages/index.astro')), 60_000),
    ).toBe(true);

    // Deleting emits the final status and closes the relay to the dev server.
    const deleted = await t.api.request('DELETE', `/workspace/${id}`, { token: owner.token });
    expect(deleted.status).toBe(204);
    expect(await eventually(async () => ownerHeard.status.some((e) => e.status === 'stopped'), 30_000)).toBe(true);
    expect(relay.has(id)).toBe(false);
    expect(relay.openCount).toBe(0);

    // The stranger heard nothing of it.
    expect(strangerHeard).toEqual({ buildStatus: [], hmr: [], status: [], errors: [] });

    // Unsubscribe works and leaves the room.
    expect(await ownerSocket.timeout(5_000).emitWithAck('unsubscribe', { sessionId: id })).toEqual({ ok: true });
  });
});

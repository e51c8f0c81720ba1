import { rmSync } from 'node:fs';
import { type Server, type Socket, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCKER_SOCKET, requireDocker } from '../support/docker';
import { useDockerApp } from '../support/docker-app';

// Ports of this file: 8430-8432 (three, so the range can be exhausted).
const PORT_RANGE = { PORT_RANGE_START: '8430', PORT_RANGE_END: '8432' };

const dockerReady = requireDocker('lifecycle-engine-outage');

/**
 * A unix-socket proxy in front of the shared Docker engine that the test can take away and bring
 * back: to the backend it is exactly an engine that stops answering and returns, without stopping
 * the engine other suites use.
 */
class EngineSocketProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly path: string,
    private readonly target: string,
  ) {}

  up(): Promise<void> {
    rmSync(this.path, { force: true });
    const server = createServer((client) => {
      const upstream = connect(this.target);
      this.sockets.add(client).add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream).pipe(client);
    });
    this.server = server;
    return new Promise((resolve) => server.listen(this.path, resolve));
  }

  down(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    return new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
}

describe.skipIf(!dockerReady)('engine outage (simulated by a socket proxy) and quotas', () => {
  const proxy = new EngineSocketProxy(join(tmpdir(), `docker-proxy-${process.pid}.sock`), DOCKER_SOCKET);
  let firstUser: { token: string } | undefined;

  // Registered before the app's hooks: the proxy is up before the app starts and down after it closed.
  beforeAll(() => proxy.up());
  afterAll(async () => {
    await proxy.down();
    rmSync(proxy.path, { force: true });
  });

  const t = useDockerApp({
    DOCKER_SOCKET: proxy.path,
    MAX_SESSIONS_PER_USER: '2',
    HEALTH_INTERVAL_MS: '1000',
    RECONCILE_INTERVAL_MS: '2000',
    ...PORT_RANGE,
  });

  it('answers 503 with a message while the engine is away, keeps running sessions, and works again when it is back', async () => {
    const { session: first, ...user } = await t.runningSession('outage');
    firstUser = user;

    await proxy.down();
    const refused = await t.api.request('POST', '/workspace/create', { token: user.token, body: {} });
    expect(refused.status).toBe(503);
    expect(refused.body.message).toMatch(/Docker engine .* does not answer/);
    const files = await t.api.request('GET', `/workspace/${first.id}/files/src/pages/index.astro`, {
      token: user.token,
    });
    expect(files.status).toBe(503);
    expect(files.body.message).toMatch(/does not answer/);
    const ready = await fetch(`${t.baseUrl}/health/ready`);
    expect(ready.status).toBe(503);
    // Health checks and reconciliation run meanwhile (1-2 s intervals) and must not take the outage
    // for dead workspaces.
    await new Promise((r) => setTimeout(r, 4_500));
    const [row] = await t.db.query<{ status: string }>(
      'SELECT status FROM workspace_sessions WHERE id = $1',
      [first.id],
    );
    expect(row.status).toBe('running');

    await proxy.up();
    expect((await fetch(`${t.baseUrl}/health/ready`)).status).toBe(200);
    const read = await t.api.request('GET', `/workspace/${first.id}/files/src/pages/index.astro`, {
      token: user.token,
    });
    expect(read.status).toBe(200);
    const second = await t.api.request('POST', '/workspace/create', { token: user.token, body: {} });
    t.sessionIds.add(second.body.id);
    expect(second.status).toBe(201);
    expect((await t.api.waitForSettled(user.token, second.body.id)).status).toBe('running');
  }, 300_000);

  it('answers 429 past the per-user limit and 503 when the port range is used up, with messages', async () => {
    // The first test's user holds 2 running sessions: its limit.
    const tooMany = await t.api.request('POST', '/workspace/create', { token: firstUser!.token, body: {} });
    expect(tooMany.status).toBe(429);
    expect(tooMany.body).toMatchObject({ statusCode: 429, error: 'Too Many Requests' });
    expect(tooMany.body.message).toMatch(
      /session limit reached: at most 2 active workspace sessions per user/,
    );

    const user = await t.api.newUser('quota');
    const third = await t.api.request('POST', '/workspace/create', { token: user.token, body: {} });
    t.sessionIds.add(third.body.id);
    expect(third.status).toBe(201);
    // All three ports of the range are held now.
    const noPort = await t.api.request('POST', '/workspace/create', { token: user.token, body: {} });
    expect(noPort.status).toBe(503);
    expect(noPort.body).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
    expect(noPort.body.message).toMatch(/no preview port free in 8430-8432/);
    expect((await t.api.request('DELETE', `/workspace/${third.body.id}`, { token: user.token })).status).toBe(
      204,
    );
  });
});

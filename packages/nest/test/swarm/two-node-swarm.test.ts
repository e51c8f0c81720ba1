import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { promisify } from 'node:util';
import Dockerode from 'dockerode';
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLocalSwarm, localSwarmUnavailable, type LocalSwarm } from '../../../../scripts/swarm/local-swarm.mjs';
import { launchChromium } from '../../../../tests/support/browser';
import { dockerAvailability } from '../runtime/runtime-test.helpers';
import { TEMPLATE_IMAGE, docker } from '../support/docker';
import { previewGet } from '../support/preview-host';
import { ApiClient, type TestUser, eventually } from '../support/test-app';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

/**
 * A real two-node swarm on this machine (the machine's engine as manager, a second engine in a
 * network namespace as worker; scripts/swarm/local-swarm.mjs), the API running as a container on
 * the manager from its image, workspaces placed on the worker. Traffic stays on loopback, the veth
 * pair and the namespaces and containers this file makes.
 */
const runId = `two-node-${process.pid}-${Date.now()}`;
const API_IMAGE = process.env.API_IMAGE ?? 'localhost:5000/builder-api:latest';
// Ports of this file: the API on 8470; nothing else is published.
const API_PORT = 8470;
/** Bound stated for a lost node (README): the swarm marks it down (~5-15 s), the health check (every 2 s here) ends its sessions. */
const NODE_LOSS_BOUND_MS = 60_000;
const THEME = 'src/styles/theme.css';
/** Node label the workspaces are placed by: the worker has it; the manager gets it once the worker is lost. */
const WORKSPACE_NODE_LABEL = 'builder-workspaces';
const sh = promisify(execFile);

const engineUp = dockerAvailability();
const unavailable = engineUp.available ? localSwarmUnavailable() : engineUp.reason;
if (unavailable && process.env.CI === 'true') throw new Error(`two-node swarm tests: ${unavailable} (CI requires them)`);
if (unavailable) console.warn(`[two-node swarm tests] SKIPPED: ${unavailable}`);

/** Runs a command in a workspace's task container on the worker (the worker's own engine, for the test's eyes only). */
async function execOnWorker(worker: Dockerode, container: string, command: string[]): Promise<{ exitCode: number; output: string }> {
  const exec = await worker.getContainer(container).exec({ Cmd: command, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ Detach: false, Tty: false });
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  const { ExitCode } = await exec.inspect();
  // Docker's frame headers (8 bytes per frame) are dropped by keeping printable text only.
  return { exitCode: ExitCode ?? -1, output: Buffer.concat(chunks).toString('utf8').replace(/[\x00-\x08\x0b-\x1f]/g, '') };
}

/** A node one-liner that resolves a name and prints its address, or the error (TIMEOUT after 8 s). */
function tryResolve(name: string): string[] {
  return [
    'node',
    '-e',
    `setTimeout(()=>{console.log('TIMEOUT');process.exit(1)},8000).unref();` +
      `require('dns').lookup(${JSON.stringify(name)},(e,a)=>{console.log(e?e.code:a);process.exit(e?1:0)});`,
  ];
}

/** A node one-liner that tries a TCP connection and prints `connected` or the error code. */
function tryConnect(host: string, port: number): string[] {
  return [
    'node',
    '-e',
    `const s=require('net').connect({host:${JSON.stringify(host)},port:${port},timeout:3000});` +
      `s.on('connect',()=>{console.log('connected');process.exit(0)});` +
      `s.on('timeout',()=>{console.log('ETIMEDOUT');process.exit(1)});` +
      `s.on('error',(e)=>{console.log(e.code);process.exit(1)});`,
  ];
}

describe.skipIf(unavailable !== null)('a two-node swarm: workspaces on the worker, the API in a container on the manager', () => {
  let swarm: LocalSwarm | undefined;
  let db: TestDatabase | undefined;
  let worker: Dockerode;
  let api: ApiClient;
  let user: TestUser;
  let browser: Browser | undefined;
  let image: string;
  const apiName = `builder-api-${runId}`;
  const sessions: any[] = [];
  const firstStatuses: string[] = [];
  /** What the files API acknowledged (answered with a version) in the first session, by path. */
  const acknowledged = new Map<string, string>();
  let failed = false;

  beforeAll(async () => {
    swarm = await createLocalSwarm({ workers: 1 });
    worker = new Dockerode({ socketPath: swarm.workerSocket! });
    await sh('docker', ['node', 'update', '--label-add', `${WORKSPACE_NODE_LABEL}=true`, swarm.workerNodeId!]);
    image = await swarm.imageFor(TEMPLATE_IMAGE);
    db = await createTestDatabase();
    const baseUrl = await swarm.startApi({
      name: apiName,
      image: API_IMAGE,
      port: API_PORT,
      databaseUrl: db.url,
      env: {
        JWT_SECRET: 'test-secret-test-secret-test-secret-0123456789',
        LOG_LEVEL: 'warn',
        RUNTIME: 'swarm',
        TEMPLATE_IMAGE: image,
        PREVIEW_MODE: 'proxy',
        PREVIEW_DOMAIN: 'preview.localhost',
        SWARM_PLACEMENT_CONSTRAINTS: `node.labels.${WORKSPACE_NODE_LABEL}==true`,
        HEALTH_INTERVAL_MS: '2000',
        WARM_POOL_SIZE: '1',
        START_CONCURRENCY: '1',
        DEPLOYMENT_ID: runId,
        START_TIMEOUT_MS: '180000',
      },
    });
    api = new ApiClient(baseUrl);
    user = await api.newUser('swarm');
    // The pool's workspace is the first on the worker (its start pulls the image from the registry).
    expect(await eventually(async () => (await pooledRunning()) === 1, 240_000, 500)).toBe(true);
    // The first create takes it; the second starts cold through the start queue while the pool refills.
    for (let i = 0; i < 2; i++) {
      const created = await api.request('POST', '/workspace/create', { token: user.token, body: {} });
      expect(created.status).toBe(201);
      sessions.push(created.body);
      firstStatuses.push(created.body.status);
    }
    for (const [i, session] of sessions.entries()) sessions[i] = await api.waitForSettled(user.token, session.id, 240_000);
    for (const session of sessions) expect(session, JSON.stringify(session)).toMatchObject({ status: 'running', port: null });
  }, 10 * 60_000);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await swarm?.stopApi(apiName, { printLogs: failed });
    await swarm?.destroy();
    await db?.drop();
  }, 5 * 60_000);

  /** Pooled workspaces running, per the database. */
  async function pooledRunning(): Promise<number> {
    const [row] = await db!.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM workspace_sessions s JOIN users u ON u.id = s.user_id
        WHERE u.email = 'warm-pool@system.invalid' AND s.status = 'running'`,
    );
    return row.n;
  }

  /** The running task of a session's service, and its container on the worker. */
  async function taskOf(sessionId: string): Promise<{ nodeId: string; container: string }> {
    const [service] = await docker.listServices({ filters: { label: [`dev.builder.session-id=${sessionId}`] } });
    const tasks = await docker.listTasks({ filters: { service: [service.ID], 'desired-state': ['running'] } });
    const task = tasks.find((t: any) => t.Status.State === 'running');
    return { nodeId: task.NodeID, container: task.Status.ContainerStatus.ContainerID };
  }

  it('serves a create from the warm pool at once, the next one cold through the start queue', async () => {
    const [claimed, cold] = sessions;
    const events = await db!.query<{ id: string; build_step: string }>(`SELECT id, build_step FROM workspace_sessions WHERE id = ANY($1::uuid[])`, [
      [claimed.id, cold.id],
    ]);
    expect(events.every((row) => row.build_step === 'ready')).toBe(true);
    // The claim hands over a running workspace: the create answered `running`; the cold one was started.
    const created = await api.request('GET', `/workspace/${claimed.id}/status`, { token: user.token });
    expect(created.body.status).toBe('running');
    expect(firstStatuses).toEqual(['running', 'creating']);
    // And the pool refills on the swarm.
    expect(await eventually(async () => (await pooledRunning()) === 1, 240_000, 500)).toBe(true);
  });

  it('places the workspaces on the worker, hardened there as on the docker runtime', async () => {
    for (const session of sessions) {
      const { nodeId, container } = await taskOf(session.id);
      expect(nodeId).toBe(swarm!.workerNodeId);
      const info = await worker.getContainer(container).inspect();
      expect(info.Config.Image).toBe(image);
      expect(info.Config.User).toBe('1000:1000');
      expect(info.HostConfig).toMatchObject({ ReadonlyRootfs: true, CapDrop: ['ALL'], PidsLimit: 256, Init: true, Memory: 512 * 1024 * 1024 });
    }
    // The worker pulled the image from the registry every node reaches.
    expect((await worker.getImage(image).inspect()).RepoTags).toContain(image);
  });

  it('serves the preview through the API and hot-reloads it in Chromium', async () => {
    const [mine] = sessions;
    expect(mine.previewUrl).toMatch(new RegExp(`^http://${mine.id}-[A-Za-z0-9_-]+\\.preview\\.localhost:${API_PORT}/$`));
    const page0 = await previewGet(mine.previewUrl);
    expect(page0.status).toBe(200);
    expect(page0.text).toContain('hero-title');

    browser = (await launchChromium()).browser;
    const page = await browser.newPage();
    const hmrSocket = new Promise<string>((resolve) => page.on('websocket', (ws) => resolve(ws.url())));
    await page.goto(mine.previewUrl, { waitUntil: 'load' });
    expect(new URL(await hmrSocket).host).toBe(new URL(mine.previewUrl).host);
    const theme = await api.request('GET', `/workspace/${mine.id}/files/${THEME}`, { token: user.token });
    expect(theme.status).toBe(200);
    // Expressions as strings: this package compiles without the DOM library.
    const colorOfTitle = () => page.evaluate<string>(`getComputedStyle(document.getElementById('hero-title')).color`);
    await page.evaluate('window.__marker = 42');
    const themed = `${theme.body.content}\n#hero-title { color: rgb(1, 2, 3); }\n`;
    const put = await api.request('PUT', `/workspace/${mine.id}/files/${THEME}`, { token: user.token, body: { content: themed } });
    expect(put.status).toBe(200);
    expect(put.body.version).toMatchObject({ number: expect.any(Number) });
    acknowledged.set(THEME, themed);
    const changedAt = Date.now();
    expect(await eventually(async () => (await colorOfTitle()) === 'rgb(1, 2, 3)', 20_000, 100)).toBe(true);
    console.log(`[measure] CSS edit on the worker visible in Chromium through the API after ${Date.now() - changedAt} ms`);
    // Swapped in place: no reload.
    expect(await page.evaluate<number>('window.__marker')).toBe(42);
  });

  it("writes through the files API into the workspace's volume on the worker", async () => {
    const [mine] = sessions;
    const content = `<p>written ${Date.now()}</p>\n`;
    const put = await api.request('PUT', `/workspace/${mine.id}/files/src/components/FromApi.astro`, {
      token: user.token,
      body: { content },
    });
    expect(put.status).toBe(200);
    expect(put.body.version).toMatchObject({ number: expect.any(Number) });
    acknowledged.set('src/components/FromApi.astro', content);
    const { container } = await taskOf(mine.id);
    const onWorker = await execOnWorker(worker, container, ['cat', '/app/src/components/FromApi.astro']);
    expect(onWorker.output).toBe(content);
    const read = await api.request('GET', `/workspace/${mine.id}/files/src/components/FromApi.astro`, { token: user.token });
    expect(read.body.content).toBe(content);
    const tree = await api.request('GET', `/workspace/${mine.id}/files`, { token: user.token });
    expect(tree.body.entries.map((entry: { path: string }) => entry.path)).toContain('src/components/FromApi.astro');
  });

  it('leaves a workspace on the worker no way out and no way to another workspace', async () => {
    const [mine, theirs] = sessions;
    const { container } = await taskOf(mine.id);
    const { container: other } = await taskOf(theirs.id);
    // Routes: its own network only, no default route (an internal overlay has no gateway).
    const routes = await execOnWorker(worker, container, ['cat', '/proc/net/route']);
    const lines = routes.output.trim().split('\n').slice(1).map((line) => line.trim().split(/\s+/));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.filter(([, destination]) => destination === '00000000')).toEqual([]);

    // A server this test runs on the manager's address of the link: the worker's namespace reaches it, the workspace does not.
    const server: Server = createServer((socket) => {
      socket.on('error', () => undefined);
      socket.end('hello\n');
    });
    await new Promise<void>((resolve) => server.listen(0, swarm!.managerAddr, resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const fromNamespace = await sh('nsenter', [`--net=/run/netns/${swarm!.workerNetns}`, ...tryConnect(swarm!.managerAddr, port)]).then(
        (r) => r.stdout.trim(),
        (e: { stdout?: string }) => e.stdout?.trim() ?? 'failed',
      );
      expect(fromNamespace).toBe('connected');
      const fromWorkspace = await execOnWorker(worker, container, tryConnect(swarm!.managerAddr, port));
      expect(fromWorkspace.output.trim()).not.toBe('connected');
      expect(fromWorkspace.exitCode).not.toBe(0);
    } finally {
      server.close();
    }

    // The other workspace: its name does not resolve here, and its address is not reachable.
    const otherInfo = await worker.getContainer(other).inspect();
    const otherIp = Object.values(otherInfo.NetworkSettings.Networks)[0].IPAddress;
    expect(otherIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const byName = await execOnWorker(worker, container, tryResolve(`ws-${theirs.id}`));
    expect(byName.output.trim()).not.toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect((await execOnWorker(worker, container, tryResolve(`ws-${mine.id}`))).output.trim()).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    for (const target of [4321, 4322]) {
      const byAddress = await execOnWorker(worker, container, tryConnect(otherIp, target));
      expect(byAddress.output.trim()).not.toBe('connected');
    }
  });

  it(`ends the sessions of a lost node in error within ${NODE_LOSS_BOUND_MS / 1000} s, freeing what they held`, async () => {
    const stoppedAt = Date.now();
    await swarm!.stopWorkerEngine();
    const engineGone = Date.now() - stoppedAt;
    const markedDown = eventually(
      async () => (await docker.getNode(swarm!.workerNodeId!).inspect()).Status.State === 'down',
      NODE_LOSS_BOUND_MS,
      250,
    ).then(() => Date.now() - stoppedAt);
    const ended = await eventually(
      async () => {
        for (const session of sessions) {
          const status = await api.request('GET', `/workspace/${session.id}/status`, { token: user.token });
          if (status.body.status !== 'error') return false;
        }
        return true;
      },
      NODE_LOSS_BOUND_MS,
      500,
    );
    const elapsed = Date.now() - stoppedAt;
    console.log(
      `[measure] worker engine stopped: engine gone after ${engineGone} ms, node marked down after ${await markedDown} ms, its sessions in error after ${elapsed} ms`,
    );
    expect(ended).toBe(true);
    for (const session of sessions) {
      const status = await api.request('GET', `/workspace/${session.id}/status`, { token: user.token });
      expect(status.body.errorMessage).toMatch(/node .* was lost/);
      const [service] = await docker.listServices({ filters: { label: [`dev.builder.session-id=${session.id}`] } });
      expect(service).toBeUndefined();
    }
    // Their networks go once the swarm lets go of them (the lost task's endpoint is freed with the service).
    const sessionNetworks = async () =>
      (
        await Promise.all(
          sessions.map((session) => docker.listNetworks({ filters: { label: [`dev.builder.session-id=${session.id}`] } })),
        )
      ).flat();
    expect(await eventually(async () => (await sessionNetworks()).length === 0, 30_000)).toBe(true);
  });

  it("loses nothing acknowledged: the lost session's project has its edits, and a new create of it on another node shows them", async () => {
    const [mine] = sessions;
    expect(mine.projectId).toEqual(expect.any(String));
    expect(acknowledged.size).toBe(2);
    // The project's latest version holds every edit the files API answered before the loss.
    const versions = await api.request('GET', `/projects/${mine.projectId}/versions`, { token: user.token });
    expect(versions.status).toBe(200);
    const latest = versions.body[0];
    for (const [path, content] of acknowledged) {
      const file = await api.request('GET', `/projects/${mine.projectId}/versions/${latest.id}/files/${path}`, { token: user.token });
      expect(file.status, path).toBe(200);
      expect(file.body).toMatchObject({ encoding: 'utf8', content });
    }
    // Room on another node (the manager takes workspaces now), then the user opens the project again.
    await sh('docker', ['node', 'update', '--label-add', `${WORKSPACE_NODE_LABEL}=true`, swarm!.managerNodeId]);
    const createdAt = Date.now();
    const created = await api.request('POST', '/workspace/create', { token: user.token, body: { projectId: mine.projectId } });
    expect(created.status).toBe(201);
    const again = await api.waitForSettled(user.token, created.body.id, 240_000);
    expect(again, JSON.stringify(again)).toMatchObject({ status: 'running', projectId: mine.projectId });
    console.log(`[measure] the project recreated on the manager: running ${Date.now() - createdAt} ms after its create`);
    expect((await taskOf(again.id)).nodeId).toBe(swarm!.managerNodeId);
    for (const [path, content] of acknowledged) {
      const read = await api.request('GET', `/workspace/${again.id}/files/${path}`, { token: user.token });
      expect(read.status, path).toBe(200);
      expect(read.body.content).toBe(content);
    }
    const page = await previewGet(again.previewUrl);
    expect(page.status).toBe(200);
    expect(page.text).toContain('hero-title');
    await api.request('DELETE', `/workspace/${again.id}`, { token: user.token });
  });

  afterEach((context) => {
    if (context.task.result?.state === 'fail') failed = true;
  });
});

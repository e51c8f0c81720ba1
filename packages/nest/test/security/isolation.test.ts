import { type AddressInfo, type Server, connect, createServer } from 'node:net';
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  WORKSPACE_RUNTIME,
  type WorkspaceRuntime,
} from '../../src/shared/runtime/workspace-runtime.interface';
import { docker, requireDocker } from '../support/docker';
import { useDockerApp } from '../support/docker-app';

// Ports of this file: 8440-8444.
const PORT_RANGE = { PORT_RANGE_START: '8440', PORT_RANGE_END: '8444' };
const NETWORK = 'builder-workspaces';
const FIREWALL_HINT =
  'the workspace firewall rules are missing or incomplete: run scripts/setup.sh as root (it runs scripts/network/isolate-workspaces.sh, which needs iptables)';

const dockerReady = requireDocker('security-isolation');

/** Node one-liner run inside a workspace: connect over TCP, print `connected` or why not. */
const CONNECT_SCRIPT = `
const s = require('net').connect({ host: process.argv[1], port: Number(process.argv[2]) });
s.setTimeout(3000);
s.on('connect', () => { console.log('connected'); process.exit(0); });
s.on('timeout', () => { console.log('timeout'); process.exit(3); });
s.on('error', (e) => { console.log('error ' + e.code); process.exit(4); });`;

function hostConnects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(3000);
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', () => resolve(false));
  });
}

describe.skipIf(!dockerReady)('workspace container isolation (inspected on a running workspace)', () => {
  const t = useDockerApp(PORT_RANGE);
  let runtime: WorkspaceRuntime;
  let info: Dockerode.ContainerInspectInfo;
  let other: Dockerode.ContainerInspectInfo;
  let hostServer: Server;
  let gateway: string;

  const run = (command: string[]) => runtime.exec(info.Id, command, { timeoutMs: 20_000 });
  const node = (script: string, ...args: string[]) => run(['node', '-e', script, ...args]);

  beforeAll(async () => {
    runtime = t.app.get<WorkspaceRuntime>(WORKSPACE_RUNTIME);
    const user = await t.api.newUser('isolation');
    const created = await Promise.all(
      [0, 1].map(() => t.api.request('POST', '/workspace/create', { token: user.token, body: {} })),
    );
    const ids: string[] = created.map((c) => c.body.id);
    ids.forEach((id) => t.sessionIds.add(id));
    for (const id of ids) expect((await t.api.waitForSettled(user.token, id)).status).toBe('running');
    const rows = await t.db.query<{ id: string; container_id: string }>(
      'SELECT id, container_id FROM workspace_sessions WHERE id = ANY($1::uuid[])',
      [ids],
    );
    const byId = new Map(rows.map((r) => [r.id, r.container_id]));
    info = await docker.getContainer(byId.get(ids[0])!).inspect();
    other = await docker.getContainer(byId.get(ids[1])!).inspect();

    const network = await docker.getNetwork(NETWORK).inspect();
    gateway = network.IPAM?.Config?.[0]?.Gateway ?? '';
    expect(gateway, `network ${NETWORK} has no gateway address`).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    // A server of our own on the host, bound to the workspace bridge's gateway address.
    hostServer = createServer((socket) => {
      socket.on('error', () => undefined);
      socket.end('hello from the host\n');
    });
    await new Promise<void>((resolve) => hostServer.listen(0, gateway, resolve));
  });

  afterAll(() => {
    hostServer?.close();
  });

  it('does not run as root', async () => {
    expect(info.Config.User).toBe('1000:1000');
    expect((await run(['id', '-u'])).stdout.trim()).toBe('1000');
  });

  it('has a read-only root file system: /etc refuses writes, /app and /tmp take them', async () => {
    expect(info.HostConfig.ReadonlyRootfs).toBe(true);
    const write = (path: string) => node(`require('fs').writeFileSync(process.argv[1], 'x')`, path);
    const etc = await write('/etc/isolation-probe');
    expect(etc.exitCode).not.toBe(0);
    expect(etc.stderr).toMatch(/EROFS|EACCES|read-only/);
    expect((await write('/app/.isolation-probe')).exitCode).toBe(0);
    expect((await write('/tmp/isolation-probe')).exitCode).toBe(0);
  });

  it('drops every capability', async () => {
    expect(info.HostConfig.CapDrop).toEqual(['ALL']);
    expect((await run(['cat', '/proc/self/status'])).stdout).toMatch(/CapEff:\s+0000000000000000/);
  });

  it('sets no-new-privileges', async () => {
    expect(info.HostConfig.SecurityOpt).toContain('no-new-privileges');
    expect((await run(['cat', '/proc/self/status'])).stdout).toMatch(/NoNewPrivs:\s+1/);
  });

  it('has a pids limit', () => {
    expect(info.HostConfig.PidsLimit).toBe(256);
  });

  it('carries no Docker health check: the backend probes its dev server instead', () => {
    expect(info.Config.Healthcheck?.Test).toEqual(['NONE']);
  });

  it('has memory and CPU limits', async () => {
    expect(info.HostConfig.Memory).toBe(512 * 1024 * 1024);
    expect(info.HostConfig.MemorySwap).toBe(512 * 1024 * 1024);
    expect(info.HostConfig.CpuShares).toBe(512);
    // The CPU quota is applied once the dev server is ready: read it live.
    const live = (await docker.getContainer(info.Id).inspect()).HostConfig;
    expect(live.CpuQuota! / live.CpuPeriod!).toBe(0.5);
  });

  it('has no Docker socket inside', async () => {
    expect(
      (info.Mounts ?? []).some(
        (m) => /docker\.sock/.test(m.Source ?? '') || /docker\.sock/.test(m.Destination),
      ),
    ).toBe(false);
    const probe = await node(
      `const fs=require('fs');console.log(['/var/run/docker.sock','/run/docker.sock'].some((p)=>fs.existsSync(p)))`,
    );
    expect(probe.stdout.trim()).toBe('false');
  });

  it('mounts its volume in its own container only', async () => {
    const volumes = (info.Mounts ?? []).filter((m) => m.Type === 'volume');
    expect(volumes).toHaveLength(1);
    const users = await docker.listContainers({ all: true, filters: { volume: [volumes[0].Name!] } });
    expect(users.map((c) => c.Id)).toEqual([info.Id]);
  });

  it('cannot reach a server on the host (bridge gateway address), which the host itself reaches', async () => {
    const { port } = hostServer.address() as AddressInfo;
    expect(await hostConnects(gateway, port)).toBe(true);
    // The probe works inside the workspace: its own dev server answers it.
    expect((await node(CONNECT_SCRIPT, '127.0.0.1', '4321')).stdout.trim()).toBe('connected');
    const attempt = await node(CONNECT_SCRIPT, gateway, String(port));
    expect(attempt.stdout.trim(), FIREWALL_HINT).not.toBe('connected');
  });

  it('cannot reach another workspace, which the backend reaches', async () => {
    const otherIp = other.NetworkSettings.Networks[NETWORK].IPAddress;
    expect(otherIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(await hostConnects(otherIp, 4321)).toBe(true);
    const attempt = await node(CONNECT_SCRIPT, otherIp, '4321');
    expect(attempt.stdout.trim(), FIREWALL_HINT).not.toBe('connected');
  });
});

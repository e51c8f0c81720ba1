import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerRuntime, workspaceVolumeName } from '../../src/shared/runtime/docker.runtime';
import { HttpProbe } from '../../src/shared/runtime/http-probe.service';
import { LoopVolumes } from '../../src/shared/runtime/loop-volumes.service';
import type { RuntimeOptions } from '../../src/shared/runtime/runtime-options';
import {
  ImageUnavailableError,
  RuntimeUnavailableError,
  WorkspaceFileError,
  WorkspaceNotFoundError,
} from '../../src/shared/runtime/runtime.errors';
import { WORKSPACE_LABELS } from '../../src/shared/runtime/workspace-runtime.interface';
import { DockerService } from '../../src/shared/services/docker.service';
import { TemplateService } from '../../src/shared/services/template.service';
import {
  MIB,
  TEMPLATE_IMAGE,
  TEMPLATE_TEXT,
  TEST_RUN_LABEL,
  dockerAvailability,
  fetchPage,
  followOutput,
  freeTestPort,
  testOptions,
  waitFor,
  workspaceSpec,
} from './runtime-test.helpers';

const docker = dockerAvailability();
const runId = `docker-${process.pid}-${Date.now()}`;
const engine = new Dockerode({ socketPath: process.env.DOCKER_SOCKET ?? '/var/run/docker.sock' });

async function fileError(
  promise: Promise<unknown>,
): Promise<WorkspaceFileError['reason'] | 'resolved' | string> {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    return error instanceof WorkspaceFileError
      ? error.reason
      : `${(error as Error).name}: ${(error as Error).message}`;
  }
}

async function containerExists(id: string): Promise<boolean> {
  return engine
    .getContainer(id)
    .inspect()
    .then(() => true)
    .catch((error: { statusCode?: number }) => {
      if (error.statusCode === 404) return false;
      throw error;
    });
}

async function volumeExists(name: string): Promise<boolean> {
  return engine
    .getVolume(name)
    .inspect()
    .then(() => true)
    .catch((error: { statusCode?: number }) => {
      if (error.statusCode === 404) return false;
      throw error;
    });
}

describe.skipIf(!docker.available)('DockerRuntime against the real engine', () => {
  let options: RuntimeOptions;
  let service: DockerService;
  let runtime: DockerRuntime;
  let dataDir: string;
  let id: string;
  let sessionId: string;
  let hostPort: number;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'docker-runtime-test-'));
    // A network of this run only: the backend's own network is never touched by tests.
    // Docker's own health check is off by default; on here, to prove it works when configured.
    options = testOptions({
      dataDir,
      networkName: `builder-workspaces-${runId}`,
      healthcheckIntervalMs: 2_000,
    });
    service = new DockerService(options);
    runtime = new DockerRuntime(options, service, new LoopVolumes(options));
    expect(await runtime.ensureImage(TEMPLATE_IMAGE)).toBe('present');
  });

  afterAll(async () => {
    // Everything this run made carries its label: containers first, then volumes, then the network.
    const containers = await engine.listContainers({
      all: true,
      filters: { label: [`${TEST_RUN_LABEL}=${runId}`] },
    });
    await Promise.all(
      containers.map((c) =>
        engine
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined),
      ),
    );
    const volumes = await engine.listVolumes({ filters: { label: [`${TEST_RUN_LABEL}=${runId}`] } });
    await Promise.all(
      (volumes.Volumes ?? []).map((v) =>
        engine
          .getVolume(v.Name)
          .remove()
          .catch(() => undefined),
      ),
    );
    await engine
      .getNetwork(options.networkName)
      .remove()
      .catch(() => undefined);
    // The volumes' file systems (loop devices and their images under dataDir) go with them.
    const loops = new LoopVolumes(options);
    for (const session of await loops.sessions()) await loops.release(session).catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('creates and starts a workspace whose address answers 200 with the template page', async () => {
    hostPort = await freeTestPort();
    sessionId = `t-${runId}-a`;
    const startedAt = Date.now();
    ({ id } = await runtime.create(workspaceSpec({ runId, sessionId, hostPort })));
    await runtime.start(id);
    const address = await runtime.address(id);
    expect(address.port).toBe(4321);
    expect(address.host).not.toBe('127.0.0.1');
    const page = await waitFor(
      'the dev server to answer 200',
      async () => {
        const result = await fetchPage(`http://${address.host}:${address.port}/`);
        return result?.status === 200 ? result : null;
      },
      90_000, // generous: the machine is shared; medians are measured apart from tests
    );
    expect(page.text).toContain(TEMPLATE_TEXT);
    console.log(`[docker] create → first 200: ${Date.now() - startedAt} ms`);
    // The published port answers too.
    expect((await fetchPage(`http://127.0.0.1:${hostPort}/`))?.status).toBe(200);
  });

  it('lays the template out in the session volume without node_modules entries', async () => {
    const files = await runtime.listFiles(id);
    const paths = files.map((entry) => entry.path);
    expect(paths).toContain('src/pages/index.astro');
    expect(paths).toContain('package.json');
    expect(files.find((entry) => entry.path === 'src/pages')?.type).toBe('directory');
    expect(paths.some((path) => path.split('/').includes('node_modules'))).toBe(false);
    expect(paths.some((path) => path.startsWith('.astro') || path.startsWith('.vite'))).toBe(false);
    const volume = await engine.getVolume(workspaceVolumeName(sessionId)).inspect();
    expect(volume.Labels).toMatchObject({
      [WORKSPACE_LABELS.managed]: 'true',
      [WORKSPACE_LABELS.sessionId]: sessionId,
      [WORKSPACE_LABELS.userId]: 'test-user',
    });
  });

  it('runs with the security settings of the plan', async () => {
    const info = await engine.getContainer(id).inspect();
    expect(info.Config.User).toBe('1000:1000');
    expect(info.Config.Labels).toMatchObject({ [WORKSPACE_LABELS.managed]: 'true', [TEST_RUN_LABEL]: runId });
    expect(info.Config.Env).toEqual(
      expect.arrayContaining(['NODE_ENV=development', 'ASTRO_TELEMETRY_DISABLED=1', 'WORKSPACE_TEST=1']),
    );
    expect(info.HostConfig.ReadonlyRootfs).toBe(true);
    expect(info.HostConfig.CapDrop).toEqual(['ALL']);
    expect(info.HostConfig.SecurityOpt).toEqual(['no-new-privileges']);
    expect(info.HostConfig.PidsLimit).toBe(256);
    expect(info.HostConfig.Memory).toBe(512 * MIB);
    expect(info.HostConfig.MemorySwap).toBe(512 * MIB);
    expect(info.HostConfig.CpuShares).toBe(512);
    expect(info.HostConfig.Init).toBe(true);
    expect(info.Config.Healthcheck).toMatchObject({
      Interval: options.healthcheckIntervalMs * 1_000_000,
      Retries: 3,
    });
    expect(info.Config.Cmd).toEqual([
      'node',
      '--optimize-for-size',
      '--max-semi-space-size=1',
      '--v8-pool-size=1',
      'node_modules/astro/astro.js',
      'dev',
      '--host',
      '0.0.0.0',
      '--port',
      '4321',
    ]);
    expect(info.Config.Entrypoint).toEqual(['/usr/local/bin/docker-entrypoint.sh']);
    expect(info.HostConfig.NetworkMode).toBe(options.networkName);
    expect(info.HostConfig.PortBindings).toEqual({
      '4321/tcp': [{ HostIp: '127.0.0.1', HostPort: String(hostPort) }],
    });
    expect(info.NetworkSettings.Ports['4321/tcp']).toEqual([
      { HostIp: '127.0.0.1', HostPort: String(hostPort) },
    ]);
    expect(info.Mounts).toEqual([
      expect.objectContaining({
        Type: 'volume',
        Name: workspaceVolumeName(sessionId),
        Destination: '/app',
        RW: true,
      }),
    ]);
  });

  it('writes a file through the engine and the dev server serves the new text', async () => {
    const marker = `Edited through putArchive ${Date.now()}`;
    const original = (await runtime.readFile(id, 'src/pages/index.astro')).toString();
    const edited = original.replace(TEMPLATE_TEXT, marker);
    expect(edited).not.toBe(original);
    await runtime.writeFile(id, 'src/pages/index.astro', Buffer.from(edited));
    expect((await runtime.readFile(id, 'src/pages/index.astro')).toString()).toBe(edited);
    const { host, port } = await runtime.address(id);
    await waitFor(
      'the edited page to be served',
      async () => (await fetchPage(`http://${host}:${port}/`))?.text.includes(marker),
      20_000,
    );
    // New folders are created and owned by the workspace user.
    await runtime.writeFile(id, 'src/components/new/Hello.astro', Buffer.from('<p>hello</p>'));
    expect((await runtime.readFile(id, 'src/components/new/Hello.astro')).toString()).toBe('<p>hello</p>');
    const owner = await runtime.exec(id, [
      'stat',
      '-c',
      '%u:%g %a',
      'src/components/new',
      'src/components/new/Hello.astro',
    ]);
    expect(owner.stdout.trim().split('\n')).toEqual(['1000:1000 755', '1000:1000 644']);
  });

  it('refuses symlinks, folders, missing files and writes through the node_modules link', async () => {
    expect(await fileError(runtime.readFile(id, 'node_modules'))).toBe('not-a-file');
    expect(await fileError(runtime.readFile(id, 'src'))).toBe('not-a-file');
    expect(await fileError(runtime.readFile(id, 'src/pages/missing.astro'))).toBe('not-found');
    expect(await fileError(runtime.readFile(id, '../etc/passwd'))).toBe('outside');
    expect(await fileError(runtime.writeFile(id, 'node_modules/evil.js', Buffer.from('x')))).toBe(
      'not-a-file',
    );
    expect(await fileError(runtime.writeFile(id, 'src', Buffer.from('x')))).toBe('not-a-file');
    expect((await runtime.exec(id, ['test', '-L', 'node_modules'])).exitCode).toBe(0);
  });

  it('refuses a FIFO planted under a file name without blocking on it', async () => {
    expect((await runtime.exec(id, ['mkfifo', '/app/src/pipe.css'])).exitCode).toBe(0);
    try {
      expect(await fileError(runtime.writeFile(id, 'src/pipe.css', Buffer.from('x')))).toBe('not-a-file');
    } finally {
      await runtime.exec(id, ['rm', '-f', '/app/src/pipe.css']);
    }
  });

  it('never writes through a symlink the workspace planted toward the host, on either write path', async () => {
    // A canary folder on the host; the workspace links to it (a dangling link inside the container,
    // a real path on the host, where the fast path writes).
    const canaryDir = mkdtempSync(join(tmpdir(), 'canary-'));
    writeFileSync(join(canaryDir, 'canary.txt'), 'untouched');
    try {
      expect((await runtime.exec(id, ['ln', '-s', canaryDir, '/app/src/out'])).exitCode).toBe(0);
      expect(
        (await runtime.exec(id, ['ln', '-s', join(canaryDir, 'canary.txt'), '/app/src/link.css'])).exitCode,
      ).toBe(0);
      const viaDir = await fileError(runtime.writeFile(id, 'src/out/canary.txt', Buffer.from('owned')));
      expect(['outside', 'not-a-file', 'not-found']).toContain(viaDir);
      const viaLink = await fileError(runtime.writeFile(id, 'src/link.css', Buffer.from('owned')));
      expect(['outside', 'not-a-file']).toContain(viaLink);
      expect(readFileSync(join(canaryDir, 'canary.txt'), 'utf8')).toBe('untouched');
    } finally {
      await runtime.exec(id, ['rm', '-f', '/app/src/out', '/app/src/link.css']);
      rmSync(canaryDir, { recursive: true, force: true });
    }
  });

  it('writes new files through the engine and existing ones on the fast path, owned by the workspace user', async () => {
    await runtime.writeFile(id, 'src/components/Fresh.astro', Buffer.from('<p>fresh</p>\n'));
    const inode = async () =>
      (await runtime.exec(id, ['stat', '-c', '%i', '/app/src/components/Fresh.astro'])).stdout.trim();
    const before = await inode();
    await runtime.writeFile(id, 'src/components/Fresh.astro', Buffer.from('<p>edited</p>\n'));
    // The archive API replaces a file (a new inode); the fast path rewrites it in place.
    expect(await inode()).toBe(before);
    expect((await runtime.readFile(id, 'src/components/Fresh.astro')).toString()).toBe('<p>edited</p>\n');
    const owner = await runtime.exec(id, ['stat', '-c', '%u:%g', '/app/src/components/Fresh.astro']);
    expect(owner.stdout.trim()).toBe('1000:1000');
  });

  it('execs as uid 1000 with demuxed output and the exit code', async () => {
    const whoami = await runtime.exec(id, ['id', '-u']);
    expect(whoami).toEqual({ exitCode: 0, stdout: '1000\n', stderr: '' });
    const mixed = await runtime.exec(id, ['sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(mixed).toEqual({ exitCode: 3, stdout: 'out\n', stderr: 'err\n' });
  });

  it('reports running and, soon, healthy', async () => {
    const healthy = await waitFor(
      'health to become healthy',
      async () => {
        const info = await runtime.inspect(id);
        expect(info.state).toBe('running');
        return info.health === 'healthy' ? info : null;
      },
      30_000,
      250,
    );
    expect(healthy).toMatchObject({ id, exitCode: null, oomKilled: false });
    expect(healthy.startedAt).not.toBeNull();
    expect((await runtime.list()).map((info) => info.id)).toContain(id);
  });

  it('reports stats and logs', async () => {
    const stats = await runtime.stats(id);
    expect(stats.memoryLimitBytes).toBe(512 * MIB);
    expect(stats.memoryBytes).toBeGreaterThan(10 * MIB);
    expect(stats.pids).toBeGreaterThan(0);
    expect(stats.cpuPercent).toBeGreaterThanOrEqual(0);
    const logs = await runtime.logs(id, { tail: 50 });
    expect(logs.join('\n')).toMatch(/astro|Local|entrypoint/i);
  });

  it('follows the output: its last lines, then each new line, until unsubscribed', async () => {
    const followed = await followOutput(runtime, id, 50);
    await waitFor(
      'the last lines',
      async () => followed.lines.some((l) => /ready in/.test(l.line)),
      10_000,
      50,
    );
    // Astro prints every request it serves.
    const address = await runtime.address(id);
    await fetchPage(`http://${address.host}:${address.port}/follow-marker`);
    await waitFor(
      'the request line',
      async () => followed.lines.some((l) => l.stream === 'stdout' && l.line.includes('/follow-marker')),
      10_000,
      50,
    );
    followed.stop();
    const count = followed.lines.length;
    await fetchPage(`http://${address.host}:${address.port}/after-stop`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(followed.lines.length).toBe(count);
    await expect(runtime.followLogs('no-such-container', () => undefined)).rejects.toBeInstanceOf(
      WorkspaceNotFoundError,
    );
  });

  it('applies a CPU quota to the live container: half a core, accounted per second', async () => {
    await runtime.updateResources(id, { cpuCores: 0.5 });
    const info = await engine.getContainer(id).inspect();
    expect(info.HostConfig.CpuQuota).toBe(500_000);
    expect(info.HostConfig.CpuPeriod).toBe(1_000_000);
    expect(info.HostConfig.NanoCpus ?? 0).toBe(0);
  });

  it('initializes the workspace through TemplateService without installing', async () => {
    const templates = new TemplateService(runtime, options, new HttpProbe());
    const result = await templates.initializeWorkspace(id, 'baseline-landing', { timeoutMs: 30_000 });
    expect(result.installed).toBe(false);
    expect(result.readyAfterMs).toBeGreaterThanOrEqual(0);
    expect(result.readyAfterMs).toBeLessThan(30_000);
    expect(() => templates.templateDefinition('no-such-template')).toThrow(
      /unknown template "no-such-template"/,
    );
  });

  it('stops, then removes container and volume, idempotently', async () => {
    const followed = await followOutput(runtime, id, 0);
    await runtime.stop(id, 5);
    // The output of a stopped workspace ends, and its follower is told.
    await followed.ended;
    const stopped = await runtime.inspect(id);
    expect(stopped.state).toBe('exited');
    expect(stopped.exitCode).not.toBeNull();
    // Files stay readable from a stopped container.
    expect((await runtime.readFile(id, 'package.json')).length).toBeGreaterThan(0);
    await runtime.remove(id);
    expect(await containerExists(id)).toBe(false);
    expect(await volumeExists(workspaceVolumeName(sessionId))).toBe(false);
    await runtime.remove(id);
    await expect(runtime.inspect(id)).rejects.toBeInstanceOf(WorkspaceNotFoundError);
  });

  it('removes by session what a never-started workspace left', async () => {
    const session = `t-${runId}-b`;
    const created = await runtime.create(
      workspaceSpec({ runId, sessionId: session, hostPort: await freeTestPort() }),
    );
    expect(await volumeExists(workspaceVolumeName(session))).toBe(true);
    await runtime.removeBySession(session);
    expect(await containerExists(created.id)).toBe(false);
    expect(await volumeExists(workspaceVolumeName(session))).toBe(false);
    await runtime.removeBySession(session);
  });

  it('pulls a missing image from the registry, reporting progress', async () => {
    // Another name for the registry the lead pushed to: a tag only this test creates and removes.
    const image = '127.0.0.1:5000/baseline-landing-template:latest';
    const existedBefore = await engine
      .getImage(image)
      .inspect()
      .then(() => true)
      .catch(() => false);
    const progress: string[] = [];
    try {
      expect(await runtime.ensureImage(image, (message) => progress.push(message))).toBe(
        existedBefore ? 'present' : 'pulled',
      );
      if (!existedBefore) expect(progress.length).toBeGreaterThan(0);
      expect(await runtime.ensureImage(image)).toBe('present');
    } finally {
      if (!existedBefore)
        await engine
          .getImage(image)
          .remove({ noprune: true })
          .catch(() => undefined);
    }
  });

  it('reports an image that cannot be pulled as ImageUnavailableError', async () => {
    const error = await runtime
      .ensureImage('127.0.0.1:5000/no-such-image-for-tests:latest')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageUnavailableError);
  });
});

describe('DockerService and DockerRuntime without an engine', () => {
  it('throws RuntimeUnavailableError naming the socket', async () => {
    const options = testOptions({ dataDir: '/tmp', dockerSocket: '/tmp/no-such-docker.sock' });
    const runtime = new DockerRuntime(options, new DockerService(options), new LoopVolumes(options));
    const error = await runtime.ping().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RuntimeUnavailableError);
    expect((error as Error).message).toMatch(/Docker engine at \/tmp\/no-such-docker\.sock does not answer/);
    await expect(runtime.inspect('anything')).rejects.toBeInstanceOf(RuntimeUnavailableError);
    await expect(runtime.ensureImage(TEMPLATE_IMAGE)).rejects.toBeInstanceOf(RuntimeUnavailableError);
  });
});

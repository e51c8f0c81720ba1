import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerRuntime, workspaceVolumeName } from '../../src/shared/runtime/docker.runtime';
import { LoopVolumes } from '../../src/shared/runtime/loop-volumes.service';
import type { RuntimeOptions } from '../../src/shared/runtime/runtime-options';
import { ImageUnavailableError, RuntimeUnavailableError } from '../../src/shared/runtime/runtime.errors';
import { WORKSPACE_LABELS } from '../../src/shared/runtime/workspace-runtime.interface';
import { DockerService } from '../../src/shared/services/docker.service';
import { type ContractCase, type ContractWorkspace, contractCases, fileError, registerContract } from './runtime-contract';
import {
  MIB,
  TEMPLATE_IMAGE,
  TEST_RUN_LABEL,
  dockerAvailability,
  fetchPage,
  freeTestPort,
  testOptions,
  waitFor,
  workspaceSpec,
} from './runtime-test.helpers';

const docker = dockerAvailability();
const runId = `docker-${process.pid}-${Date.now()}`;
const engine = new Dockerode({ socketPath: process.env.DOCKER_SOCKET ?? '/var/run/docker.sock' });

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


/** The docker runtime's own cases, run on the contract's workspace while it runs. */
const dockerCases: ContractCase[] = [
  {
    name: 'publishes the dev server on its host port and keeps the files in the session volume',
    async run({ runtime, id, spec }) {
      const address = await runtime.address(id);
      expect(address.port).toBe(4321);
      expect(address.host).not.toBe('127.0.0.1');
      expect((await fetchPage(`http://127.0.0.1:${spec.hostPort}/`))?.status).toBe(200);
      const volume = await engine.getVolume(workspaceVolumeName(spec.sessionId)).inspect();
      expect(volume.Labels).toMatchObject({
        [WORKSPACE_LABELS.managed]: 'true',
        [WORKSPACE_LABELS.sessionId]: spec.sessionId,
        [WORKSPACE_LABELS.userId]: 'test-user',
      });
    },
  },
  {
    name: 'runs with the security settings of the plan',
    async run({ id, spec, options }) {
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
      expect(info.Config.Healthcheck).toMatchObject({ Interval: options.healthcheckIntervalMs * 1_000_000, Retries: 3 });
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
        '4321/tcp': [{ HostIp: '127.0.0.1', HostPort: String(spec.hostPort) }],
      });
      expect(info.NetworkSettings.Ports['4321/tcp']).toEqual([{ HostIp: '127.0.0.1', HostPort: String(spec.hostPort) }]);
      expect(info.Mounts).toEqual([
        expect.objectContaining({
          Type: 'volume',
          Name: workspaceVolumeName(spec.sessionId),
          Destination: '/app',
          RW: true,
        }),
      ]);
    },
  },
  {
    name: 'creates folders and files owned by the workspace user, a link to node_modules kept',
    async run({ runtime, id }) {
      await runtime.writeFile(id, 'src/components/owned/Hello.astro', Buffer.from('<p>hello</p>'));
      const owner = await runtime.exec(id, ['stat', '-c', '%u:%g %a', 'src/components/owned', 'src/components/owned/Hello.astro']);
      expect(owner.stdout.trim().split('\n')).toEqual(['1000:1000 755', '1000:1000 644']);
      expect((await runtime.exec(id, ['test', '-L', 'node_modules'])).exitCode).toBe(0);
    },
  },
  {
    name: 'refuses a FIFO planted under a file name without blocking on it',
    async run({ runtime, id }) {
      expect((await runtime.exec(id, ['mkfifo', '/app/src/pipe.css'])).exitCode).toBe(0);
      try {
        expect(await fileError(runtime.writeFile(id, 'src/pipe.css', Buffer.from('x')))).toBe('not-a-file');
      } finally {
        await runtime.exec(id, ['rm', '-f', '/app/src/pipe.css']);
      }
    },
  },
  {
    name: 'never writes through a symlink the workspace planted toward the host, on either write path',
    async run({ runtime, id }) {
      // A canary folder on the host; the workspace links to it (a dangling link inside the container,
      // a real path on the host, where the fast path writes).
      const canaryDir = mkdtempSync(join(tmpdir(), 'canary-'));
      writeFileSync(join(canaryDir, 'canary.txt'), 'untouched');
      try {
        expect((await runtime.exec(id, ['ln', '-s', canaryDir, '/app/src/out'])).exitCode).toBe(0);
        expect((await runtime.exec(id, ['ln', '-s', join(canaryDir, 'canary.txt'), '/app/src/link.css'])).exitCode).toBe(0);
        const viaDir = await fileError(runtime.writeFile(id, 'src/out/canary.txt', Buffer.from('owned')));
        expect(['outside', 'not-a-file', 'not-found']).toContain(viaDir);
        const viaLink = await fileError(runtime.writeFile(id, 'src/link.css', Buffer.from('owned')));
        expect(['outside', 'not-a-file']).toContain(viaLink);
        expect(readFileSync(join(canaryDir, 'canary.txt'), 'utf8')).toBe('untouched');
      } finally {
        await runtime.exec(id, ['rm', '-f', '/app/src/out', '/app/src/link.css']);
        rmSync(canaryDir, { recursive: true, force: true });
      }
    },
  },
  {
    name: 'writes new files through the engine and existing ones on the fast path, owned by the workspace user',
    async run({ runtime, id }) {
      await runtime.writeFile(id, 'src/components/Fresh.astro', Buffer.from('<p>fresh</p>\n'));
      const inode = async () => (await runtime.exec(id, ['stat', '-c', '%i', '/app/src/components/Fresh.astro'])).stdout.trim();
      const before = await inode();
      await runtime.writeFile(id, 'src/components/Fresh.astro', Buffer.from('<p>edited</p>\n'));
      // The archive API replaces a file (a new inode); the fast path rewrites it in place.
      expect(await inode()).toBe(before);
      expect((await runtime.readFile(id, 'src/components/Fresh.astro')).toString()).toBe('<p>edited</p>\n');
      const owner = await runtime.exec(id, ['stat', '-c', '%u:%g', '/app/src/components/Fresh.astro']);
      expect(owner.stdout.trim()).toBe('1000:1000');
    },
  },
  {
    name: 'execs as uid 1000',
    async run({ runtime, id }) {
      expect(await runtime.exec(id, ['id', '-u'])).toEqual({ exitCode: 0, stdout: '1000\n', stderr: '' });
    },
  },
  {
    name: 'reports running and, soon, healthy',
    async run({ runtime, id }) {
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
    },
  },
  {
    name: 'applies a CPU quota to the live container: half a core, accounted per second',
    async run({ runtime, id }) {
      await runtime.updateResources(id, { cpuCores: 0.5 });
      const info = await engine.getContainer(id).inspect();
      expect(info.HostConfig.CpuQuota).toBe(500_000);
      expect(info.HostConfig.CpuPeriod).toBe(1_000_000);
      expect(info.HostConfig.NanoCpus ?? 0).toBe(0);
    },
  },
];

describe.skipIf(!docker.available)('DockerRuntime against the real engine', () => {
  let options: RuntimeOptions;
  let service: DockerService;
  let runtime: DockerRuntime;
  let dataDir: string;
  const workspace = {} as ContractWorkspace;

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
    Object.assign(workspace, {
      runtime,
      options,
      newSpec: async (suffix: string) => workspaceSpec({ runId, sessionId: `t-${runId}-${suffix}`, hostPort: await freeTestPort() }),
    });
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

  registerContract(() => workspace, contractCases(dockerCases));

  it('removed the containers and the session volumes with them', async () => {
    expect(await containerExists(workspace.id)).toBe(false);
    expect(await volumeExists(workspaceVolumeName(workspace.spec.sessionId))).toBe(false);
    expect(await volumeExists(workspaceVolumeName(`t-${runId}-b`))).toBe(false);
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

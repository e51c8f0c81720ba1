import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerRuntime, workspaceVolumeName } from '../../src/shared/runtime/docker.runtime';
import { attachedLoopDevices, loopImageBytes, LoopVolumes } from '../../src/shared/runtime/loop-volumes.service';
import type { RuntimeOptions } from '../../src/shared/runtime/runtime-options';
import { WORKSPACE_LABELS } from '../../src/shared/runtime/workspace-runtime.interface';
import { DockerService } from '../../src/shared/services/docker.service';
import { MIB, TEST_RUN_LABEL, dockerAvailability, freeTestPort, testOptions, workspaceSpec } from './runtime-test.helpers';

const docker = dockerAvailability();
const runId = `storage-${process.pid}-${Date.now()}`;
const engine = new Dockerode({ socketPath: process.env.DOCKER_SOCKET ?? '/var/run/docker.sock' });
const LIMIT = 16 * MIB;

// Loop devices need root; CI runs as root, so there the suite never skips.
const root = process.getuid?.() === 0;
if (!root && docker.available) {
  if (process.env.CI === 'true') throw new Error('the kernel-enforced storage limit is tested as root; CI runs as root');
  console.warn('[docker-storage] SKIPPED: loop devices need root');
}

describe.skipIf(!docker.available || !root)('DockerRuntime: each workspace volume its own ext4 file system (kernel-enforced limit)', () => {
  let options: RuntimeOptions;
  let loops: LoopVolumes;
  let runtime: DockerRuntime;
  let dataDir: string;

  /** Loop devices backed by a file under this run's data folder, and the image files there. */
  async function leftovers(): Promise<{ devices: string[]; images: string[] }> {
    const devices = (await attachedLoopDevices()).filter((loop) => loop.backingFile.startsWith(dataDir)).map((loop) => loop.device);
    const images = await readdir(loops.dir).catch(() => [] as string[]);
    return { devices, images };
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'docker-storage-test-'));
    options = testOptions({ dataDir, networkName: `builder-workspaces-${runId}`, storageHardLimit: 'loop', deploymentId: runId });
    loops = new LoopVolumes(options);
    runtime = new DockerRuntime(options, new DockerService(options), loops);
    expect(await loops.unavailable()).toBeNull();
  });

  afterAll(async () => {
    const mine = { filters: { label: [`${TEST_RUN_LABEL}=${runId}`] } };
    for (const c of await engine.listContainers({ all: true, ...mine })) await engine.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    for (const v of (await engine.listVolumes(mine)).Volumes ?? []) await engine.getVolume(v.Name).remove().catch(() => undefined);
    await engine.getNetwork(options.networkName).remove().catch(() => undefined);
    for (const session of await loops.sessions()) await loops.release(session).catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
  });

  function spec(sessionId: string, hostPort: number, image?: string) {
    const base = workspaceSpec({ runId, sessionId, hostPort });
    return { ...base, image: image ?? base.image, resources: { ...base.resources, storageBytes: LIMIT } };
  }

  it('a writer inside stops with "No space left on device" a little past the limit; the image holds only what was written; removal frees device and image', async () => {
    const sessionId = `s-${runId}-fill`;
    const { id } = await runtime.create(spec(sessionId, await freeTestPort()));
    const volume = await engine.getVolume(workspaceVolumeName(sessionId)).inspect();
    expect(volume.Options).toMatchObject({ type: 'ext4', device: expect.stringMatching(/^\/dev\/loop\d+$/) });
    const image = loops.imageOf(sessionId);
    expect(statSync(image).size).toBe(loopImageBytes(LIMIT));
    expect((await leftovers()).devices).toEqual([volume.Options!.device]);

    await runtime.start(id);
    // The engine filled the new file system from the image's /app: the template is there.
    expect((await runtime.readFile(id, 'package.json')).toString()).toContain('astro');
    // Read from the volume's own file system on this host: cheap enough to ask before every write.
    const before = await runtime.diskUsage(id);
    expect(before.cheap).toBe(true);
    expect(before.usedBytes).toBeGreaterThan(0);
    expect(before.usedBytes).toBeLessThan(LIMIT);

    const fill = await runtime.exec(id, ['dd', 'if=/dev/zero', 'of=/app/fill.bin', 'bs=1048576', 'count=400'], { timeoutMs: 60_000 });
    expect(fill.exitCode).not.toBe(0);
    expect(fill.stderr).toMatch(/No space left on device/);
    const written = await runtime.exec(id, ['stat', '-c', '%s', '/app/fill.bin']);
    const writtenBytes = Number(written.stdout.trim());
    console.log(`[measure] limit ${LIMIT / MIB} MiB, image ${loopImageBytes(LIMIT) / MIB} MiB: the writer stopped at ${(writtenBytes / MIB).toFixed(1)} MiB`);
    expect(writtenBytes).toBeGreaterThan(LIMIT);
    expect(writtenBytes).toBeLessThan(loopImageBytes(LIMIT));
    const used = await runtime.diskUsage(id);
    expect(used.usedBytes).toBeGreaterThan(LIMIT);
    // Where the volume's folder is not reachable from this host (a remote engine, no root), the
    // figure comes from `du` inside the workspace: slower, and the same within the file system's own metadata.
    const throughEngine = new DockerRuntime({ ...options, hostVolumeWrites: false }, new DockerService(options), loops);
    const counted = await throughEngine.diskUsage(id);
    expect(counted.cheap).toBe(false);
    expect(Math.abs(counted.usedBytes - used.usedBytes)).toBeLessThan(4 * MIB);
    // Sparse: the image takes what was written, not its full size up front.
    expect(statSync(image).blocks * 512).toBeLessThan(loopImageBytes(LIMIT) + MIB);

    await runtime.remove(id);
    expect(await leftovers()).toEqual({ devices: [], images: [] });
    expect(existsSync(image)).toBe(false);
  });

  it('a create that fails after its file system was made leaves no device and no image', async () => {
    const sessionId = `s-${runId}-broken`;
    const error = await runtime
      .create(spec(sessionId, await freeTestPort(), '127.0.0.1:5000/no-such-image-for-tests:never'))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(await leftovers()).toEqual({ devices: [], images: [] });
    const volumes = await engine.listVolumes({ filters: { label: [`${WORKSPACE_LABELS.sessionId}=${sessionId}`] } });
    expect(volumes.Volumes ?? []).toEqual([]);
  });

  it('a file system left without its volume (a crash between the two) is listed for reconciliation and removed by session', async () => {
    const sessionId = `s-${runId}-orphan`;
    const device = await loops.attach(sessionId, LIMIT);
    expect((await leftovers()).devices).toEqual([device]);
    const listed = (await runtime.listVolumes()).find((volume) => volume.labels[WORKSPACE_LABELS.sessionId] === sessionId);
    expect(listed).toEqual({
      name: loops.imageOf(sessionId),
      labels: { [WORKSPACE_LABELS.managed]: 'true', [WORKSPACE_LABELS.sessionId]: sessionId, [WORKSPACE_LABELS.deployment]: runId },
    });
    await runtime.removeBySession(sessionId);
    expect(await leftovers()).toEqual({ devices: [], images: [] });
    await runtime.removeBySession(sessionId);
  });
});

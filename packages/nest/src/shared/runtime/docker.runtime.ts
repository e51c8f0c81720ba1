import { constants as fsConstants } from 'node:fs';
import { access } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type Dockerode from 'dockerode';
import type {
  ContainerInfo,
  ContainerSpec,
  ContainerStats,
  ExecResult,
  FileTreeEntry,
  ResourceAllocation,
} from '@builder/shared';
import { DockerService, dockerErrorMessage, dockerStatusCode, notFoundAsWorkspace } from '../services/docker.service';
import { ConfinedFs } from './confined-fs.util';
import { publishedContainerPort, toContainerInfo, toContainerStats } from './docker-mapping.util';
import { demuxLines, DockerFrameDemuxer, LineSplitter, type LogLine } from './docker-frames.util';
import { LoopVolumes } from './loop-volumes.service';
import { DEFAULT_CONTAINER_PORT } from './dev-server.constants';
import { RUNTIME_OPTIONS, type RuntimeOptions } from './runtime-options';
import { PortUnavailableError, WorkspaceFileError, WorkspaceNotFoundError } from './runtime.errors';
import { assertSessionId, normalizeWorkspacePath } from './workspace-path.util';
import {
  type DiskUsage,
  WORKSPACE_LABELS,
  type WorkspaceAddress,
  type WorkspaceFileContent,
  type WorkspaceRuntime,
  type WorkspaceVolumeInfo,
} from './workspace-runtime.interface';
import {
  devServerCommand,
  devServerEnv,
  devServerPort,
  envList,
  WORKSPACE_DIR,
  WORKSPACE_TMPFS,
  WORKSPACE_USER,
  workspaceHealthcheck,
  workspaceLabels,
} from './workspace-container.util';
import {
  listArchiveEntries,
  MAX_READ_BYTES,
  packWorkspaceFiles,
  readArchiveFiles,
  readFirstEntry,
} from './workspace-tar.util';

/**
 * Scheduler period of the CPU quota (µs). `--cpus 0.5` accounts per 100 ms, so an edit's page
 * render (~100 ms of CPU) is throttled to ~3× its time; per 1 s the same 0.5-core average lets a
 * single edit run at full speed. Measured here, `.astro` write → re-rendered page, median of 15:
 * no quota 107-115 ms, `--cpus 0.5` 313-387 ms, 0.5 s per 1 s 115-136 ms.
 */
const CPU_QUOTA_PERIOD_US = 1_000_000;

/** Name of the volume holding a session's workspace files. */
export function workspaceVolumeName(sessionId: string): string {
  return `workspace-${assertSessionId(sessionId)}`;
}

/**
 * Workspaces as Docker containers: one container and one named volume per session, on a
 * user-defined bridge network. Files move through the engine's archive API, never through the
 * host's file system, so the engine may run on another machine.
 */
@Injectable()
export class DockerRuntime implements WorkspaceRuntime {
  readonly kind = 'docker' as const;
  readonly publishesHostPorts = true;
  private readonly logger = new Logger(DockerRuntime.name);
  private network: Promise<void> | null = null;
  private storageNoticeGiven = false;
  private readonly hostVolumes = new Map<string, Promise<ConfinedFs | null>>();

  constructor(
    @Inject(RUNTIME_OPTIONS) private readonly options: RuntimeOptions,
    private readonly docker: DockerService,
    private readonly loops: LoopVolumes,
  ) {}

  ping(): Promise<void> {
    return this.docker.ping();
  }

  async ensureImage(image: string, onProgress?: (message: string) => void): Promise<'present' | 'pulled'> {
    if (await this.docker.imageExists(image)) return 'present';
    onProgress?.(`pulling ${image}`);
    await this.docker.pullImage(image, onProgress);
    return 'pulled';
  }

  async create(spec: ContainerSpec): Promise<{ id: string }> {
    const volume = workspaceVolumeName(spec.sessionId);
    const labels = workspaceLabels(spec, this.options.deploymentId);
    await this.ensureNetwork();
    const device = await this.storageDevice(spec);
    try {
      await this.docker.createVolume(volume, labels, device ? { type: 'ext4', device } : undefined);
    } catch (error) {
      if (device) await this.loops.release(spec.sessionId).catch(() => undefined);
      throw error;
    }
    try {
      const id = await this.createContainer(spec, volume, labels).catch(async (error: unknown) => {
        // The network can vanish under us (someone pruned it): create it again, once.
        if (dockerStatusCode(error) !== 404 || !/network/i.test(dockerErrorMessage(error))) throw error;
        this.network = null;
        await this.ensureNetwork();
        return this.createContainer(spec, volume, labels);
      });
      return { id };
    } catch (error) {
      // Leave nothing behind; a volume still used by an older container of this session stays,
      // and with it its file system.
      await this.docker
        .removeVolume(volume)
        .then(() => this.loops.release(spec.sessionId))
        .catch(() => undefined);
      throw error;
    }
  }

  async start(id: string): Promise<void> {
    try {
      await this.docker.startContainer(id);
    } catch (error) {
      const message = dockerErrorMessage(error);
      const port = /(?:Bind for|listen tcp\d?) [^:\s]*:(\d+)/.exec(message)?.[1];
      if (port && /already allocated|address already in use/.test(message)) {
        throw new PortUnavailableError(Number(port), message);
      }
      throw notFoundAsWorkspace(error, id);
    }
  }

  async stop(id: string, timeoutSeconds = 10): Promise<void> {
    await this.docker.stopContainer(id, timeoutSeconds).catch((error: unknown) => {
      throw notFoundAsWorkspace(error, id);
    });
  }

  async remove(id: string): Promise<void> {
    this.hostVolumes.delete(id);
    let info: Dockerode.ContainerInspectInfo;
    try {
      info = await this.docker.inspectContainer(id);
    } catch (error) {
      if (dockerStatusCode(error) === 404) return;
      throw error;
    }
    await this.docker.removeContainer(id);
    await this.removeManagedVolumes(
      (info.Mounts ?? []).map((mount) => (mount.Type === 'volume' ? mount.Name : undefined)),
    );
  }

  async removeBySession(sessionId: string): Promise<void> {
    const containers = await this.docker.listContainers([`${WORKSPACE_LABELS.sessionId}=${sessionId}`]);
    for (const container of containers) await this.docker.removeContainer(container.Id);
    await this.removeManagedVolumes([workspaceVolumeName(sessionId)]);
    // Also a file system whose volume was never made (a crash between the two).
    await this.loops.release(sessionId);
  }

  async inspect(id: string): Promise<ContainerInfo> {
    return toContainerInfo(await this.inspectRaw(id));
  }

  async exec(
    id: string,
    command: string[],
    options: { timeoutMs?: number; user?: string } = {},
  ): Promise<ExecResult> {
    try {
      return await this.docker.exec(id, command, {
        user: options.user,
        workingDir: WORKSPACE_DIR,
        timeoutMs: options.timeoutMs,
      });
    } catch (error) {
      if (dockerStatusCode(error) === 409)
        throw new Error(`workspace ${id} is not running: ${dockerErrorMessage(error)}`);
      throw notFoundAsWorkspace(error, id);
    }
  }

  async logs(id: string, options: { tail?: number } = {}): Promise<string[]> {
    try {
      return demuxLines(await this.docker.logs(id, options.tail ?? 200)).map((entry) => entry.line);
    } catch (error) {
      throw notFoundAsWorkspace(error, id);
    }
  }

  async followLogs(
    id: string,
    onLine: (line: LogLine) => void,
    options: { tail?: number; onEnd?: () => void } = {},
  ): Promise<() => void> {
    const demuxer = new DockerFrameDemuxer();
    const splitter = new LineSplitter();
    // One decoder per stream: a frame may end inside a multi-byte character.
    const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
    try {
      return await this.docker.followLogs(
        id,
        options.tail ?? 0,
        (chunk) =>
          demuxer.push(chunk, (stream, payload) =>
            splitter.write(stream, decoders[stream].write(payload), onLine),
          ),
        () => {
          splitter.flush(onLine);
          options.onEnd?.();
        },
      );
    } catch (error) {
      throw notFoundAsWorkspace(error, id);
    }
  }

  async stats(id: string): Promise<ContainerStats> {
    try {
      return toContainerStats(await this.docker.stats(id));
    } catch (error) {
      throw notFoundAsWorkspace(error, id);
    }
  }

  async updateResources(id: string, resources: Partial<ResourceAllocation>): Promise<void> {
    const update: Record<string, number> = {};
    if (resources.cpuCores !== undefined) {
      update.CpuPeriod = CPU_QUOTA_PERIOD_US;
      update.CpuQuota = Math.round(resources.cpuCores * CPU_QUOTA_PERIOD_US);
    }
    if (resources.cpuShares !== undefined) update.CpuShares = resources.cpuShares;
    if (resources.pidsLimit !== undefined) update.PidsLimit = resources.pidsLimit;
    if (resources.memoryBytes !== undefined) {
      update.Memory = resources.memoryBytes;
      update.MemorySwap = resources.memoryBytes;
    }
    if (Object.keys(update).length === 0) return;
    await this.docker.updateContainer(id, update).catch((error: unknown) => {
      throw notFoundAsWorkspace(error, id);
    });
  }

  async address(id: string): Promise<WorkspaceAddress> {
    const info = await this.inspectRaw(id);
    const host = info.NetworkSettings?.Networks?.[this.options.networkName]?.IPAddress;
    if (!host) {
      throw new Error(
        `workspace ${id} has no address on network ${this.options.networkName} (state ${info.State.Status})`,
      );
    }
    return { host, port: publishedContainerPort(info.HostConfig?.PortBindings, DEFAULT_CONTAINER_PORT) };
  }

  async list(): Promise<ContainerInfo[]> {
    const containers = await this.docker.listContainers([`${WORKSPACE_LABELS.managed}=true`]);
    // The list endpoint has no exit code, health or OOM flag: inspect each (a few ms apiece).
    const infos = await Promise.all(
      containers.map((container) =>
        this.docker.inspectContainer(container.Id).then(toContainerInfo, (error: unknown) => {
          if (dockerStatusCode(error) === 404) return null; // removed since the list
          throw error;
        }),
      ),
    );
    return infos.filter((info): info is ContainerInfo => info !== null);
  }

  async oomKills(since: Date, until: Date): Promise<string[]> {
    const events = await this.docker.containerEvents(
      'oom',
      [`${WORKSPACE_LABELS.managed}=true`],
      since,
      until,
    );
    return [...new Set(events.map((event) => event.id))];
  }

  /** Workspace volumes, and the file system images of sessions that have no volume (left by a crash). */
  async listVolumes(): Promise<WorkspaceVolumeInfo[]> {
    const volumes = await this.docker.listVolumeInfos([`${WORKSPACE_LABELS.managed}=true`]);
    const withVolume = new Set(volumes.map((volume) => volume.labels[WORKSPACE_LABELS.sessionId]));
    const images = (await this.loops.sessions())
      .filter((sessionId) => !withVolume.has(sessionId))
      .map((sessionId) => ({
        name: this.loops.imageOf(sessionId),
        labels: {
          [WORKSPACE_LABELS.managed]: 'true',
          [WORKSPACE_LABELS.sessionId]: sessionId,
          // The images' folder is this deployment's own.
          ...(this.options.deploymentId ? { [WORKSPACE_LABELS.deployment]: this.options.deploymentId } : {}),
        },
      }));
    return [...volumes, ...images];
  }

  async readFile(id: string, path: string): Promise<Buffer> {
    const relative = normalizeWorkspacePath(path);
    let entry;
    try {
      entry = await this.docker.readArchive(id, `${WORKSPACE_DIR}/${relative}`, (archive) =>
        readFirstEntry(archive, relative),
      );
    } catch (error) {
      throw this.fileError(error, id, relative);
    }
    if (entry.type !== 'file') {
      throw new WorkspaceFileError(
        `${relative} is not a regular file (${entry.type ?? 'unknown'})`,
        'not-a-file',
      );
    }
    return entry.content;
  }

  writeFile(id: string, path: string, content: Buffer): Promise<void> {
    return this.applyChanges(id, { writes: [{ path, content }], deletes: [] });
  }

  async applyChanges(
    id: string,
    changes: { writes: WorkspaceFileContent[]; deletes: string[] },
  ): Promise<void> {
    const writes = changes.writes.map((write) => ({
      path: normalizeWorkspacePath(write.path),
      content: write.content,
    }));
    const deletes = changes.deletes.map((path) => normalizeWorkspacePath(path));
    // Deletes first: they go through an exec (~100 ms), and the writes right after it, so the dev
    // server sees the whole change within a few ms and a batch reloads the preview once.
    if (deletes.length > 0) {
      // Inside the workspace, as its own user: whatever a path leads to, only the workspace's own
      // files can be removed. The archive API has no delete.
      const result = await this.exec(id, ['rm', '-f', '--', ...deletes], {
        user: WORKSPACE_USER,
        timeoutMs: this.options.operationTimeoutMs,
      });
      if (result.exitCode !== 0) {
        throw new WorkspaceFileError(
          `deleting ${deletes.join(', ')} failed: ${(result.stderr || result.stdout).trim()}`,
          'not-a-file',
        );
      }
    }
    // Same machine as the engine: an edit of an existing file goes straight into the volume's
    // folder (~0.4 ms instead of ~120 ms through the archive API: most of an edit's HMR latency).
    // New files and folders still go through the engine, so this process never creates anything
    // on the host where a symlink planted by the workspace could lead. New files go first: the dev
    // server reloads a page when a file it loaded changes, and the page must then find the new
    // files it imports (a component added and used in one batch).
    const hostVolume = writes.length > 0 ? await this.hostVolume(id) : null;
    const existing = new Set<string>();
    if (hostVolume) {
      for (const write of writes) if (await hostVolume.mayExist(write.path)) existing.add(write.path);
    }
    await this.writeThroughEngine(
      id,
      writes.filter((write) => !existing.has(write.path)),
    );
    const vanished: WorkspaceFileContent[] = [];
    for (const write of writes) {
      if (!hostVolume || !existing.has(write.path)) continue;
      try {
        if (await hostVolume.overwriteExisting(write.path, write.content)) continue;
      } catch (error) {
        if (error instanceof WorkspaceFileError) throw error;
        // Anything else (the volume gone from the host, permissions): the engine decides.
      }
      vanished.push(write);
    }
    await this.writeThroughEngine(id, vanished);
  }

  /** Writes files through the engine's archive API, one call for all (the tar carries their folders). */
  private async writeThroughEngine(id: string, writes: WorkspaceFileContent[]): Promise<void> {
    if (writes.length === 0) return;
    const tar = await packWorkspaceFiles(writes);
    try {
      // The root is the volume, which stays writable under a read-only root file system.
      await this.docker.putArchive(id, WORKSPACE_DIR, tar);
    } catch (error) {
      throw this.fileError(error, id, writes.map((write) => write.path).join(', '));
    }
  }

  async readTree(id: string): Promise<WorkspaceFileContent[]> {
    let tree: { files: WorkspaceFileContent[]; skipped: string[] };
    try {
      tree = await this.docker.readArchive(id, WORKSPACE_DIR, (archive) => readArchiveFiles(archive));
    } catch (error) {
      throw notFoundAsWorkspace(error, id);
    }
    if (tree.skipped.length > 0) {
      this.logger.warn(
        `workspace ${id}: files over ${MAX_READ_BYTES} bytes left out of its tree: ${tree.skipped.join(', ')}`,
      );
    }
    return tree.files;
  }

  /**
   * The workspace volume's folder on this host, when the engine runs here (a unix socket) and the
   * folder is writable by this process; null otherwise (a remote engine, a Swarm node), and files
   * then go through the engine's archive API. Looked up once per container.
   */
  private hostVolume(id: string): Promise<ConfinedFs | null> {
    if (!this.options.hostVolumeWrites || this.options.dockerSocket.startsWith('tcp://'))
      return Promise.resolve(null);
    let found = this.hostVolumes.get(id);
    if (!found) {
      found = this.docker
        .inspectContainer(id)
        .then(async (info) => {
          const mount = (info.Mounts ?? []).find(
            (m) => m.Type === 'volume' && m.Destination === WORKSPACE_DIR,
          );
          if (!mount?.Source) return null;
          await access(mount.Source, fsConstants.W_OK);
          return new ConfinedFs(mount.Source);
        })
        .catch(() => null);
      this.hostVolumes.set(id, found);
    }
    return found;
  }

  /**
   * From this host when the volume's folder is reachable (statfs of a workspace's own ext4, else a
   * walk of the folder); otherwise `du` inside the workspace, through the engine.
   */
  async diskUsage(id: string): Promise<DiskUsage> {
    const hostVolume = await this.hostVolume(id);
    if (hostVolume) {
      try {
        return await hostVolume.diskUsage();
      } catch {
        // The folder went away from this host: ask the workspace itself.
      }
    }
    const result = await this.exec(id, ['du', '-sk', WORKSPACE_DIR], { timeoutMs: this.options.operationTimeoutMs });
    const kib = /^(\d+)\s/.exec(result.stdout)?.[1];
    if (kib === undefined) throw new Error(`du in workspace ${id} failed (exit ${result.exitCode}): ${result.stderr.trim()}`);
    return { usedBytes: Number(kib) * 1024, cheap: false };
  }

  async listFiles(id: string): Promise<FileTreeEntry[]> {
    try {
      return await this.docker.readArchive(id, WORKSPACE_DIR, listArchiveEntries);
    } catch (error) {
      throw notFoundAsWorkspace(error, id);
    }
  }

  private async createContainer(
    spec: ContainerSpec,
    volume: string,
    labels: Record<string, string>,
  ): Promise<string> {
    const port = devServerPort(spec);
    return this.docker.createContainer({
      name: spec.name,
      Image: spec.image,
      Labels: labels,
      Env: envList(devServerEnv(spec, port)),
      Cmd: devServerCommand(port),
      WorkingDir: WORKSPACE_DIR,
      User: WORKSPACE_USER,
      ExposedPorts: { [`${port}/tcp`]: {} },
      // The image's own check (a node process every 30 s) replaced: off by default, the backend
      // probes instead (see healthcheckIntervalMs for the cost).
      Healthcheck: workspaceHealthcheck(this.options.healthcheckIntervalMs),
      HostConfig: {
        PortBindings: {
          [`${port}/tcp`]: [{ HostIp: this.options.publishHost, HostPort: String(spec.hostPort) }],
        },
        // An empty named volume at /app is filled from the image's /app on creation: the template's
        // sources and the node_modules symlink into the image's shared dependencies.
        Mounts: [{ Type: 'volume', Source: volume, Target: WORKSPACE_DIR, ReadOnly: false }],
        Memory: spec.resources.memoryBytes,
        MemorySwap: spec.resources.memoryBytes,
        CpuShares: spec.resources.cpuShares,
        PidsLimit: spec.resources.pidsLimit,
        Init: true,
        ReadonlyRootfs: true,
        Tmpfs: Object.fromEntries(
          Object.entries(WORKSPACE_TMPFS).map(([path, bytes]) => [path, `rw,nosuid,size=${bytes / 1024 / 1024}m`]),
        ),
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges'],
        NetworkMode: this.options.networkName,
        RestartPolicy: { Name: 'no' },
        LogConfig: { Type: 'json-file', Config: { 'max-size': '2m', 'max-file': '2' } },
      },
    });
  }

  private ensureNetwork(): Promise<void> {
    // One round trip per process, not per create; a failure is retried on the next create.
    this.network ??= this.docker
      .ensureNetwork(
        this.options.networkName,
        { [WORKSPACE_LABELS.managed]: 'true' },
        {
          // A fixed bridge name, so the host's firewall rules (scripts/network/isolate-workspaces.sh)
          // can drop every connection a workspace opens; and no traffic between workspaces.
          'com.docker.network.bridge.name': this.options.bridgeName,
          'com.docker.network.bridge.enable_icc': 'false',
        },
      )
      .catch((error: unknown) => {
        this.network = null;
        throw error;
      });
    return this.network;
  }

  private async removeManagedVolumes(names: Array<string | undefined>): Promise<void> {
    for (const name of names) {
      if (!name) continue;
      const labels = await this.docker.volumeLabels(name);
      // Only volumes this runtime made: a mount the operator added by hand is not ours to delete.
      if (labels?.[WORKSPACE_LABELS.managed] !== 'true') continue;
      await this.docker.removeVolume(name);
      const sessionId = labels[WORKSPACE_LABELS.sessionId];
      if (sessionId) await this.loops.release(sessionId);
    }
  }

  /**
   * The loop device holding the session's own file system (the kernel-enforced storage limit), or
   * null where there is none (see LoopVolumes): then a plain volume, and the limit is enforced
   * by the files API and the health monitor only.
   */
  private async storageDevice(spec: ContainerSpec): Promise<string | null> {
    if (this.options.storageHardLimit === 'off') return null;
    const reason = await this.loops.unavailable();
    if (reason && this.options.storageHardLimit === 'auto') {
      if (!this.storageNoticeGiven) {
        this.storageNoticeGiven = true;
        this.logger.log(`workspace storage: no kernel-enforced limit (${reason}); the files API and the health monitor enforce it`);
      }
      return null;
    }
    return this.loops.attach(spec.sessionId, spec.resources.storageBytes);
  }

  private async inspectRaw(id: string): Promise<Dockerode.ContainerInspectInfo> {
    try {
      return await this.docker.inspectContainer(id);
    } catch (error) {
      throw notFoundAsWorkspace(error, id);
    }
  }

  /** The archive endpoint answers 404 both for a missing container and a missing path. */
  private fileError(error: unknown, id: string, path: string): unknown {
    const status = dockerStatusCode(error);
    const message = dockerErrorMessage(error);
    if (status === 404) {
      return /^no such container/i.test(message)
        ? new WorkspaceNotFoundError(id)
        : new WorkspaceFileError(`${path} does not exist`, 'not-found');
    }
    // The engine answers 500 when extraction meets a file where the path needs a folder (or the
    // other way round), e.g. a write below the node_modules symlink.
    if ((status === 400 || status === 500) && /cannot overwrite|not a directory/i.test(message)) {
      return new WorkspaceFileError(`${path} cannot be written: ${message}`, 'not-a-file');
    }
    if (status === 500 && /no space left on device|disk quota exceeded/i.test(message)) {
      return new WorkspaceFileError(`${path} could not be written: the workspace's storage is full`, 'no-space');
    }
    if ((status === 400 || status === 403 || status === 500) && /read-only|readonly/i.test(message)) {
      return new WorkspaceFileError(`${path} lies outside the writable workspace: ${message}`, 'outside');
    }
    return error;
  }
}

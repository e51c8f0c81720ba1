import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable } from '@nestjs/common';
import Dockerode from 'dockerode';
import type { ExecResult } from '@builder/shared';
import { DockerFrameDemuxer, OutputTail } from '../runtime/docker-frames.util';
import { RUNTIME_OPTIONS, type RuntimeOptions } from '../runtime/runtime-options';
import {
  ImageUnavailableError,
  RuntimeTimeoutError,
  RuntimeUnavailableError,
  WorkspaceNotFoundError,
} from '../runtime/runtime.errors';

/** Socket-level failures meaning the engine is not there (or not reachable), as opposed to an API error. */
const UNREACHABLE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOENT',
  'EACCES',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
const EXEC_OUTPUT_BYTES = 1024 * 1024;

export type DockerServiceOptions = Pick<
  RuntimeOptions,
  'dockerSocket' | 'operationTimeoutMs' | 'pullTimeoutMs'
>;

/** What the engine reports of a swarm task (the fields the swarm runtime reads). */
export interface SwarmTask {
  ID: string;
  ServiceID: string;
  NodeID?: string;
  CreatedAt: string;
  DesiredState: string;
  Status: {
    Timestamp?: string;
    State: string;
    Message?: string;
    Err?: string;
    ContainerStatus?: { ContainerID?: string; ExitCode?: number };
  };
}

/** What the engine reports of a swarm node (the fields the swarm runtime reads). */
export interface SwarmNode {
  ID: string;
  Description?: { Hostname?: string };
  Spec?: { Role?: string; Availability?: string; Labels?: Record<string, string> };
  Status: { State: string; Addr?: string; Message?: string };
}

export interface DockerExecOptions {
  user?: string;
  workingDir?: string;
  env?: string[];
  timeoutMs?: number;
}

/** The HTTP status of a Docker API error, if it is one. */
export function dockerStatusCode(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** A 404 of the engine as {@link WorkspaceNotFoundError} for workspace `id`; any other error as it is. */
export function notFoundAsWorkspace(error: unknown, id: string): unknown {
  return dockerStatusCode(error) === 404 ? new WorkspaceNotFoundError(id) : error;
}

/** The engine's own message of a Docker API error (`{"message": ...}`), else the error's message. */
export function dockerErrorMessage(error: unknown): string {
  const json = (error as { json?: unknown } | null)?.json;
  if (json && typeof json === 'object' && typeof (json as { message?: unknown }).message === 'string') {
    return (json as { message: string }).message;
  }
  if (Buffer.isBuffer(json)) return json.toString('utf8').trim();
  const message = error instanceof Error ? error.message : String(error);
  // Streamed answers carry no JSON; dockerode then writes "(HTTP code 404) <its reason> - <engine message>".
  return /^\(HTTP code \d+\) [^-]*- ([\s\S]*)$/.exec(message)?.[1].trim() ?? message;
}

/**
 * Thin wrapper over dockerode: the one place (with the runtime folder) that speaks the Docker API.
 * Every call is bounded by a timeout ({@link RuntimeTimeoutError}) and a silent engine becomes a
 * {@link RuntimeUnavailableError} naming the endpoint. Docker API errors pass through unchanged
 * (read them with {@link dockerStatusCode} / {@link dockerErrorMessage}); callers give them meaning.
 */
@Injectable()
export class DockerService {
  /** The engine address as configured, for messages. */
  readonly endpoint: string;
  private readonly docker: Dockerode;
  private readonly operationTimeoutMs: number;
  private readonly pullTimeoutMs: number;

  constructor(@Inject(RUNTIME_OPTIONS) options: DockerServiceOptions) {
    this.endpoint = options.dockerSocket;
    this.operationTimeoutMs = options.operationTimeoutMs;
    this.pullTimeoutMs = options.pullTimeoutMs;
    this.docker = new Dockerode(connectionOptions(options.dockerSocket));
  }

  async ping(timeoutMs = Math.min(this.operationTimeoutMs, 5_000)): Promise<void> {
    await this.call('ping', timeoutMs, (abortSignal) =>
      // dockerode accepts an abort signal on every call; its typings omit it on a few.
      (this.docker.ping as unknown as (options: { abortSignal: AbortSignal }) => Promise<unknown>)({
        abortSignal,
      }),
    );
  }

  async imageExists(imageName: string): Promise<boolean> {
    try {
      await this.call(`inspect image ${imageName}`, this.operationTimeoutMs, (abortSignal) =>
        this.docker.getImage(imageName).inspect({ abortSignal } as Dockerode.ImageInspectOptions),
      );
      return true;
    } catch (error) {
      if (dockerStatusCode(error) === 404) return false;
      throw error;
    }
  }

  /** Pulls an image; registry errors (unknown image, registry down) become {@link ImageUnavailableError}. */
  async pullImage(imageName: string, onProgress?: (message: string) => void): Promise<void> {
    try {
      await this.call(`pull ${imageName}`, this.pullTimeoutMs, async (abortSignal) => {
        const stream = (await this.docker.pull(imageName, { abortSignal })) as Readable;
        abortSignal.addEventListener('abort', () => stream.destroy());
        const lastStatus = new Map<string, string>();
        await new Promise<void>((resolve, reject) => {
          this.docker.modem.followProgress(
            stream,
            (error: Error | null) => (error ? reject(error) : resolve()),
            (event: { id?: string; status?: string; error?: string }) => {
              if (!onProgress || !event.status) return;
              // Layers report download ticks many times a second: pass on changes of state only.
              const key = event.id ?? '';
              if (lastStatus.get(key) === event.status) return;
              lastStatus.set(key, event.status);
              onProgress(event.id ? `${event.id}: ${event.status}` : event.status);
            },
          );
        });
      });
    } catch (error) {
      if (error instanceof RuntimeUnavailableError || error instanceof RuntimeTimeoutError) throw error;
      throw new ImageUnavailableError(imageName, dockerErrorMessage(error));
    }
  }

  /** Creates a container and returns its id. */
  async createContainer(options: Dockerode.ContainerCreateOptions): Promise<string> {
    const container = await this.call(
      `create container ${options.name ?? ''}`.trim(),
      this.operationTimeoutMs,
      (abortSignal) =>
        this.docker.createContainer({ ...options, abortSignal } as Dockerode.ContainerCreateOptions),
    );
    return container.id;
  }

  /** Starts a container; starting a running one is not an error. */
  async startContainer(id: string): Promise<void> {
    try {
      await this.call(`start container ${id}`, this.operationTimeoutMs, (abortSignal) =>
        this.docker.getContainer(id).start({ abortSignal }),
      );
    } catch (error) {
      if (dockerStatusCode(error) !== 304) throw error;
    }
  }

  /** Stops a container (SIGTERM, SIGKILL after `timeoutSeconds`); stopping a stopped one is not an error. */
  async stopContainer(id: string, timeoutSeconds = 10): Promise<void> {
    try {
      await this.call(
        `stop container ${id}`,
        timeoutSeconds * 1000 + this.operationTimeoutMs,
        (abortSignal) => this.docker.getContainer(id).stop({ t: timeoutSeconds, abortSignal }),
      );
    } catch (error) {
      if (dockerStatusCode(error) !== 304) throw error;
    }
  }

  /** Force-removes a container (and its anonymous volumes); an unknown id is not an error. */
  async removeContainer(id: string): Promise<void> {
    try {
      await this.call(`remove container ${id}`, this.operationTimeoutMs, (abortSignal) =>
        this.docker.getContainer(id).remove({ force: true, v: true, abortSignal }),
      );
    } catch (error) {
      if (dockerStatusCode(error) !== 404) throw error;
    }
  }

  inspectContainer(id: string): Promise<Dockerode.ContainerInspectInfo> {
    return this.call(`inspect container ${id}`, this.operationTimeoutMs, (abortSignal) =>
      this.docker.getContainer(id).inspect({ abortSignal }),
    );
  }

  async updateContainer(id: string, update: Record<string, unknown>): Promise<void> {
    await this.call(`update container ${id}`, this.operationTimeoutMs, (abortSignal) =>
      this.docker.getContainer(id).update({ ...update, abortSignal }),
    );
  }

  /** Containers (running or not) carrying every label filter (`key` or `key=value`). */
  listContainers(labels: string[]): Promise<Dockerode.ContainerInfo[]> {
    return this.call('list containers', this.operationTimeoutMs, (abortSignal) =>
      this.docker.listContainers({ all: true, filters: { label: labels }, abortSignal }),
    );
  }

  /** Makes sure a bridge network of this name exists; safe against concurrent callers. */
  async ensureNetwork(
    name: string,
    labels: Record<string, string>,
    driverOptions: Record<string, string> = {},
  ): Promise<void> {
    const existing = await this.call('list networks', this.operationTimeoutMs, (abortSignal) =>
      this.docker.listNetworks({ filters: { name: [name] }, abortSignal }),
    );
    // The name filter matches substrings: compare exactly.
    if (existing.some((network) => network.Name === name)) return;
    try {
      await this.call(`create network ${name}`, this.operationTimeoutMs, (abortSignal) =>
        this.docker.createNetwork({
          Name: name,
          Driver: 'bridge',
          CheckDuplicate: true,
          Labels: labels,
          Options: driverOptions,
          abortSignal,
        }),
      );
    } catch (error) {
      // Another backend process created it between our list and create.
      if (dockerStatusCode(error) !== 409) throw error;
    }
  }

  /**
   * Creates a named volume of the `local` driver, with its mount options when given (e.g. an ext4
   * device); an existing volume of that name is returned as is (Docker's own rule).
   */
  async createVolume(name: string, labels: Record<string, string>, driverOpts?: Record<string, string>): Promise<void> {
    await this.call(`create volume ${name}`, this.operationTimeoutMs, (abortSignal) =>
      this.docker.createVolume({ Name: name, Labels: labels, ...(driverOpts ? { DriverOpts: driverOpts } : {}), abortSignal }),
    );
  }

  /** Volume labels, or null when there is no such volume. */
  async volumeLabels(name: string): Promise<Record<string, string> | null> {
    try {
      const volume = await this.call(`inspect volume ${name}`, this.operationTimeoutMs, (abortSignal) =>
        this.docker.getVolume(name).inspect({ abortSignal }),
      );
      return volume.Labels ?? {};
    } catch (error) {
      if (dockerStatusCode(error) === 404) return null;
      throw error;
    }
  }

  /**
   * Removes a volume; a missing one is not an error. Right after its container is force-removed the
   * engine can still report it in use for a moment, so a conflict is retried briefly.
   */
  async removeVolume(name: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.call(`remove volume ${name}`, this.operationTimeoutMs, (abortSignal) =>
          this.docker.getVolume(name).remove({ abortSignal }),
        );
        return;
      } catch (error) {
        const status = dockerStatusCode(error);
        if (status === 404) return;
        if (status !== 409 || attempt >= 10) throw error;
        await sleep(100);
      }
    }
  }

  listVolumes(labels: string[]): Promise<string[]> {
    return this.call('list volumes', this.operationTimeoutMs, async (abortSignal) => {
      const answer = await this.docker.listVolumes({ filters: { label: labels }, abortSignal });
      return (answer.Volumes ?? []).map((volume) => volume.Name);
    });
  }

  /**
   * Container events of one kind (e.g. `oom`) between two instants, for containers carrying every
   * label filter. A bounded query (`until` set): the engine answers what it recorded and closes.
   */
  containerEvents(
    event: string,
    labels: string[],
    since: Date,
    until: Date,
  ): Promise<Array<{ id: string; time: number }>> {
    return this.call(`events ${event}`, this.operationTimeoutMs, async (abortSignal) => {
      const stream = (await this.docker.getEvents({
        since: Math.floor(since.getTime() / 1000),
        until: Math.ceil(until.getTime() / 1000),
        filters: { type: ['container'], event: [event], label: labels },
        abortSignal,
      } as Dockerode.GetEventsOptions)) as unknown as Readable;
      abortSignal.addEventListener('abort', () => stream.destroy());
      let text = '';
      for await (const chunk of stream) text += (chunk as Buffer).toString('utf8');
      return text
        .split('\n')
        .filter((line) => line.trim())
        .map(
          (line) =>
            JSON.parse(line) as { id?: string; Actor?: { ID?: string }; time?: number; timeNano?: number },
        )
        .map((e) => ({
          id: e.Actor?.ID ?? e.id ?? '',
          time: e.timeNano ? Math.floor(e.timeNano / 1e6) : (e.time ?? 0) * 1000,
        }))
        .filter((e) => e.id);
    });
  }

  /** Volumes carrying every label filter, with their labels. */
  listVolumeInfos(labels: string[]): Promise<Array<{ name: string; labels: Record<string, string> }>> {
    return this.call('list volumes', this.operationTimeoutMs, async (abortSignal) => {
      const answer = await this.docker.listVolumes({ filters: { label: labels }, abortSignal });
      return (answer.Volumes ?? []).map((volume) => ({ name: volume.Name, labels: volume.Labels ?? {} }));
    });
  }

  /**
   * Runs a command in a running container and waits for it (bounded by `timeoutMs`). Output is
   * demuxed into stdout and stderr, each kept to its last 1 MiB. On timeout the engine is left to
   * finish the process: the Docker API has no way to kill an exec.
   */
  exec(id: string, command: string[], options: DockerExecOptions = {}): Promise<ExecResult> {
    const timeoutMs = options.timeoutMs ?? this.operationTimeoutMs;
    return this.call(`exec ${JSON.stringify(command)} in ${id}`, timeoutMs, async (abortSignal) => {
      const exec = await this.docker.getContainer(id).exec({
        Cmd: command,
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
        User: options.user,
        WorkingDir: options.workingDir,
        Env: options.env,
        abortSignal,
      } as Dockerode.ExecCreateOptions);
      const stream = (await exec.start({
        Detach: false,
        Tty: false,
        abortSignal,
      } as Dockerode.ExecStartOptions)) as Readable;
      abortSignal.addEventListener('abort', () => stream.destroy());
      const stdout = new OutputTail(EXEC_OUTPUT_BYTES);
      const stderr = new OutputTail(EXEC_OUTPUT_BYTES);
      const demuxer = new DockerFrameDemuxer();
      for await (const chunk of stream) {
        demuxer.push(chunk as Buffer, (kind, payload) =>
          (kind === 'stdout' ? stdout : stderr).append(payload),
        );
      }
      // The output can close a moment before the engine records the exit code.
      for (;;) {
        const info = await exec.inspect({ abortSignal });
        if (!info.Running && info.ExitCode !== null) {
          return { exitCode: info.ExitCode, stdout: stdout.toString(), stderr: stderr.toString() };
        }
        await sleep(20);
      }
    });
  }

  /** Streams a path of a container as a tar into `consume`; the whole read shares one timeout. */
  readArchive<T>(id: string, path: string, consume: (archive: Readable) => Promise<T>): Promise<T> {
    return this.call(`read ${path} from ${id}`, this.operationTimeoutMs, async (abortSignal) => {
      const archive = (await this.docker
        .getContainer(id)
        .getArchive({ path, abortSignal } as { path: string })) as Readable;
      abortSignal.addEventListener('abort', () => archive.destroy());
      return consume(archive);
    });
  }

  /**
   * Extracts a tar into a folder of a container (running or not). `noOverwriteDirNonDir` refuses to
   * replace a folder by a file or the other way round (a symlinked node_modules stays a symlink).
   */
  async putArchive(id: string, targetDir: string, tar: Buffer): Promise<void> {
    await this.call(`write into ${targetDir} of ${id}`, this.operationTimeoutMs, (abortSignal) =>
      this.docker
        .getContainer(id)
        .putArchive(tar, { path: targetDir, noOverwriteDirNonDir: true, abortSignal }),
    );
  }

  /** The last `tail` lines of a container's output, still multiplexed (see `demuxLines`). */
  async logs(id: string, tail: number): Promise<Buffer> {
    const output = await this.call(`logs of ${id}`, this.operationTimeoutMs, (abortSignal) =>
      this.docker.getContainer(id).logs({ stdout: true, stderr: true, follow: false, tail, abortSignal }),
    );
    return Buffer.isBuffer(output) ? output : Buffer.from(String(output));
  }

  /**
   * Follows a container's output from its last `tail` lines on: `onChunk` gets the multiplexed
   * bytes (see `DockerFrameDemuxer`), `onEnd` is called when the engine ends the stream (the
   * container stopped). Only opening the stream is bounded by the timeout. Answers the function
   * that stops following.
   */
  async followLogs(
    id: string,
    tail: number,
    onChunk: (chunk: Buffer) => void,
    onEnd: () => void,
  ): Promise<() => void> {
    const stream = (await this.call(`follow logs of ${id}`, this.operationTimeoutMs, (abortSignal) =>
      this.docker.getContainer(id).logs({ stdout: true, stderr: true, follow: true, tail, abortSignal }),
    )) as unknown as Readable;
    let stopped = false;
    stream.on('data', (chunk: Buffer) => onChunk(chunk));
    stream.on('error', () => undefined); // 'close' follows
    stream.once('close', () => {
      if (!stopped) onEnd();
    });
    return () => {
      stopped = true;
      stream.destroy();
    };
  }

  /** One stats sample (with the previous one, so CPU use can be computed; takes about a second). */
  stats(id: string): Promise<Dockerode.ContainerStats> {
    return this.call(`stats of ${id}`, this.operationTimeoutMs, (abortSignal) =>
      this.docker.getContainer(id).stats({ stream: false, abortSignal } as { stream: false }),
    );
  }

  // ---------------------------------------------------------------- swarm (manager API)

  /** This engine's swarm membership: its node id and whether it can manage the swarm. */
  async swarmState(): Promise<{ state: string; nodeId: string; manager: boolean }> {
    const info = await this.call('info', this.operationTimeoutMs, (abortSignal) =>
      (this.docker.info as unknown as (options: { abortSignal: AbortSignal }) => Promise<{ Swarm?: Record<string, unknown> }>)({ abortSignal }),
    );
    const swarm = info.Swarm ?? {};
    return {
      state: String(swarm.LocalNodeState ?? 'inactive'),
      nodeId: String(swarm.NodeID ?? ''),
      manager: swarm.ControlAvailable === true,
    };
  }

  /** Creates a service and returns its id. */
  async createService(spec: Dockerode.ServiceSpec): Promise<string> {
    const service = await this.call(`create service ${spec.Name ?? ''}`.trim(), this.operationTimeoutMs, (abortSignal) =>
      this.docker.createService({ ...spec, abortSignal }),
    );
    return service.id;
  }

  inspectService(id: string): Promise<Dockerode.Service> {
    return this.call(`inspect service ${id}`, this.operationTimeoutMs, (abortSignal) =>
      this.docker.getService(id).inspect({ abortSignal }) as Promise<Dockerode.Service>,
    );
  }

  /** Removes a service (its tasks' containers go with it, on their nodes); an unknown id is not an error. */
  async removeService(id: string): Promise<void> {
    try {
      await this.call(`remove service ${id}`, this.operationTimeoutMs, (abortSignal) =>
        this.docker.getService(id).remove({ abortSignal }),
      );
    } catch (error) {
      if (dockerStatusCode(error) !== 404) throw error;
    }
  }

  /** Services carrying every label filter. */
  listServices(labels: string[]): Promise<Dockerode.Service[]> {
    return this.call('list services', this.operationTimeoutMs, (abortSignal) =>
      this.docker.listServices({ filters: { label: labels }, abortSignal } as Dockerode.ServiceListOptions),
    );
  }

  /** Tasks (the history the swarm keeps too), optionally of some services only. */
  listTasks(serviceIds?: string[]): Promise<SwarmTask[]> {
    return this.call('list tasks', this.operationTimeoutMs, (abortSignal) =>
      this.docker.listTasks({ ...(serviceIds ? { filters: { service: serviceIds } } : {}), abortSignal }) as Promise<SwarmTask[]>,
    );
  }

  listNodes(): Promise<SwarmNode[]> {
    return this.call('list nodes', this.operationTimeoutMs, (abortSignal) =>
      this.docker.listNodes({ abortSignal } as Dockerode.NodeListOptions) as Promise<SwarmNode[]>,
    );
  }

  /** The last `tail` lines of a service's output, from whichever node runs it, still multiplexed. */
  serviceLogs(id: string, tail: number): Promise<Buffer> {
    return this.call(`logs of service ${id}`, this.operationTimeoutMs, async (abortSignal) => {
      // Without `follow` the engine's answer arrives whole, as one buffer.
      const output = (await this.docker
        .getService(id)
        .logs({ stdout: true, stderr: true, follow: false, tail, abortSignal } as Dockerode.ContainerLogsOptions)) as unknown;
      return Buffer.isBuffer(output) ? output : Buffer.from(String(output));
    });
  }

  /** Creates a network (any driver) and returns its id. */
  async createNetwork(options: Dockerode.NetworkCreateOptions): Promise<string> {
    const network = await this.call(`create network ${options.Name}`, this.operationTimeoutMs, (abortSignal) =>
      this.docker.createNetwork({ ...options, abortSignal }),
    );
    return network.id;
  }

  /** Networks carrying every label filter. */
  listNetworks(labels: string[]): Promise<Dockerode.NetworkInspectInfo[]> {
    return this.call('list networks', this.operationTimeoutMs, (abortSignal) =>
      this.docker.listNetworks({ filters: { label: labels }, abortSignal }),
    );
  }

  /** Connects a container of this engine to a network; one already connected is not an error. */
  async connectNetwork(network: string, container: string): Promise<void> {
    try {
      await this.call(`connect ${container} to network ${network}`, this.operationTimeoutMs, (abortSignal) =>
        this.docker.getNetwork(network).connect({ Container: container, abortSignal } as Dockerode.NetworkConnectOptions),
      );
    } catch (error) {
      if (!/already exists|already attached/i.test(dockerErrorMessage(error))) throw error;
    }
  }

  /** Disconnects a container from a network; a container or network already gone is not an error. */
  async disconnectNetwork(network: string, container: string): Promise<void> {
    try {
      await this.call(`disconnect ${container} from network ${network}`, this.operationTimeoutMs, (abortSignal) =>
        this.docker.getNetwork(network).disconnect({ Container: container, Force: true, abortSignal }),
      );
    } catch (error) {
      // A network just removed can answer 500 "not found" rather than 404.
      if (dockerStatusCode(error) !== 404 && !/is not connected|not found/i.test(dockerErrorMessage(error))) throw error;
    }
  }

  /** Removes a network; a missing one is not an error. A network still in use is refused ("in use by …"). */
  async removeNetwork(id: string): Promise<void> {
    try {
      await this.call(`remove network ${id}`, this.operationTimeoutMs, (abortSignal) =>
        this.docker.getNetwork(id).remove({ abortSignal }),
      );
    } catch (error) {
      // A network another call is removing can answer 500 "not found" rather than 404.
      if (dockerStatusCode(error) !== 404 && !/not found/i.test(dockerErrorMessage(error))) throw error;
    }
  }

  /** Asks the image's registry for its manifest through the engine: answers whether it is there. */
  async registryHasImage(image: string): Promise<boolean> {
    try {
      await this.call(`look up ${image} in its registry`, this.operationTimeoutMs, (abortSignal) =>
        this.docker.getImage(image).distribution({ abortSignal } as Dockerode.ImageDistributionOptions),
      );
      return true;
    } catch (error) {
      if (error instanceof RuntimeUnavailableError || error instanceof RuntimeTimeoutError) throw error;
      return false;
    }
  }

  private async call<T>(
    operation: string,
    timeoutMs: number,
    run: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new RuntimeTimeoutError(`docker ${operation}`, timeoutMs));
        controller.abort();
      }, timeoutMs);
    });
    try {
      return await Promise.race([run(controller.signal), timeout]);
    } catch (error) {
      throw this.translate(error, operation);
    } finally {
      clearTimeout(timer);
    }
  }

  private translate(error: unknown, operation: string): unknown {
    if (error instanceof RuntimeTimeoutError || error instanceof RuntimeUnavailableError) return error;
    const code = errorCode(error);
    if (code && UNREACHABLE_CODES.has(code)) {
      return new RuntimeUnavailableError(
        `the Docker engine at ${this.endpoint} does not answer (${code}); ${operation} failed`,
        { cause: error },
      );
    }
    return error;
  }
}

function errorCode(error: unknown): string | undefined {
  for (let current = error, depth = 0; current && depth < 4; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** `tcp://host:port` (or http://) reaches a remote engine; anything else is a unix socket path. */
function connectionOptions(endpoint: string): Dockerode.DockerOptions {
  if (/^(tcp|http):\/\//.test(endpoint)) {
    const url = new URL(endpoint.replace(/^tcp:/, 'http:'));
    return { host: url.hostname, port: Number(url.port || 2375), protocol: 'http' };
  }
  return { socketPath: endpoint.replace(/^unix:\/\//, '') };
}

import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type Dockerode from 'dockerode';
import type {
  ContainerInfo,
  ContainerSpec,
  ContainerStats,
  ExecResult,
  FileTreeEntry,
  ResourceAllocation,
} from '@builder/shared';
import { DockerService, dockerErrorMessage, dockerStatusCode, notFoundAsWorkspace, type SwarmNode, type SwarmTask } from '../services/docker.service';
import { DEFAULT_CONTAINER_PORT } from './dev-server.constants';
import { demuxLines, type LogLine } from './docker-frames.util';
import { RUNTIME_OPTIONS, type RuntimeOptions } from './runtime-options';
import {
  ImageUnavailableError,
  RuntimeTimeoutError,
  RuntimeUnavailableError,
  WorkspaceNotFoundError,
  WorkspaceUnreachableError,
} from './runtime.errors';
import { resolveServiceName } from './service-name.resolver';
import { devServerPortOf, serviceEnv, toWorkspaceInfo, type DevServerState } from './swarm-mapping.util';
import {
  type AgentRequest,
  type AgentTarget,
  WORKSPACE_AGENT_PORT,
  WORKSPACE_AGENT_SCRIPT,
  WORKSPACE_AGENT_TOKEN_ENV,
  WorkspaceAgentClient,
} from './workspace-agent.client';
import {
  devServerCommand,
  devServerEnv,
  devServerPort,
  envList,
  WORKSPACE_DIR,
  WORKSPACE_ENTRYPOINT,
  WORKSPACE_TMPFS,
  WORKSPACE_USER,
  workspaceHealthcheck,
  workspaceLabels,
} from './workspace-container.util';
import { normalizeWorkspacePath } from './workspace-path.util';
import {
  type DiskUsage,
  WORKSPACE_LABELS,
  type WorkspaceAddress,
  type WorkspaceFileContent,
  type WorkspaceRuntime,
  type WorkspaceVolumeInfo,
} from './workspace-runtime.interface';

/** Task restarts the swarm makes after a failure before it gives up (a replaced task lost its files). */
const RESTART_ATTEMPTS = 2;
const NANO = 1_000_000_000;
/** How long a join waits for a workspace network to reach this node (its task being placed). */
const NETWORK_JOIN_MS = 60_000;
/** How long a removal waits for the swarm to free a workspace network (its task stops first). */
const NETWORK_RELEASE_MS = 20_000;
/** Bound of the agent's answer about its dev server when the workspace is inspected. */
const AGENT_STATE_TIMEOUT_MS = 5_000;
/** Node states are read at most this often: one list serves every inspect in between. */
const NODES_CACHE_MS = 1_000;
/** Tries of an agent call or address whose name lookup failed temporarily (EAI_AGAIN, ESERVFAIL; an address also ENOTFOUND). */
const DNS_RETRIES = 4;
const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** How to reach a workspace, as its service spec says. */
interface ServiceTarget extends AgentTarget {
  network: string;
  port: number;
}

/**
 * Name of a session's service and of its network: `ws-<sessionId>`, a DNS label the dev server and
 * agent are reached by; a session id that cannot be one is hashed.
 */
export function workspaceServiceName(sessionId: string): string {
  const name = `ws-${sessionId}`;
  return DNS_LABEL.test(name) ? name : `ws-${createHash('sha256').update(sessionId).digest('hex').slice(0, 40)}`;
}

/**
 * Workspaces as Docker Swarm services on a cluster of engines: one service per session (one
 * replica, `dnsrr`, no published port) on an internal overlay network of its own, which only this
 * backend's container joins. Swarm places each by its reservations and restarts it within a small
 * bound. The backend reaches a workspace over that network only: the dev server and the workspace
 * agent (files, exec, stats, the dev server's own start and stop) by service name, and logs through
 * the manager's service API. Nothing here touches a node's file system or its engine.
 *
 * A workspace's files live in its task's own volume (an anonymous one, removed with the task's
 * container on whichever node it ran): a task the swarm replaces, or one whose node is lost, takes
 * them with it, and the workspace reports itself `lost`.
 */
@Injectable()
export class SwarmRuntime implements WorkspaceRuntime, OnModuleDestroy {
  readonly kind = 'swarm' as const;
  readonly publishesHostPorts = false;
  private readonly logger = new Logger(SwarmRuntime.name);
  private readonly agent = new WorkspaceAgentClient();
  private readonly targets = new Map<string, Promise<ServiceTarget>>();
  /** Workspace networks this process's container has joined. */
  private readonly joined = new Map<string, Promise<void>>();
  private manager: Promise<void> | null = null;
  /**
   * Workspaces inspect() found lost with their node: their files are gone, and a call to their
   * agent would wait for its timeout (a lost node drops packets), so each answers not-found at once.
   */
  private readonly lost = new Set<string>();
  /**
   * Workspaces made here whose agent has not answered yet, with the wait for it once a call needs
   * it: a call between create and start (a project's files written before the dev server starts)
   * waits for the task to run rather than failing on a name that does not resolve yet.
   */
  private readonly placing = new Map<string, Promise<void> | null>();
  private nodes: { at: number; value: Promise<Map<string, SwarmNode>> } | null = null;

  constructor(
    @Inject(RUNTIME_OPTIONS) private readonly options: RuntimeOptions,
    private readonly docker: DockerService,
  ) {}

  /** The container joined to each workspace network: this backend's own. */
  get attachContainer(): string {
    return this.options.swarmAttachContainer ?? hostname();
  }

  async ping(): Promise<void> {
    await this.docker.ping();
    // Once per process: an engine does not stop being a manager under a running backend.
    this.manager ??= this.assertManager().catch((error: unknown) => {
      this.manager = null;
      throw error;
    });
    await this.manager;
  }

  /**
   * Nodes pull the image themselves when a task lands on them. Here it is only checked: present on
   * the manager, or known to its registry (asked through the manager's engine).
   */
  async ensureImage(image: string, onProgress?: (message: string) => void): Promise<'present' | 'pulled'> {
    if (await this.docker.imageExists(image)) return 'present';
    if (await this.docker.registryHasImage(image)) {
      onProgress?.(`${image} is in its registry; each node pulls it for its first workspace`);
      return 'present';
    }
    throw new ImageUnavailableError(image, 'neither on the swarm manager nor in its registry');
  }

  async create(spec: ContainerSpec): Promise<{ id: string }> {
    const labels = workspaceLabels(spec, this.options.deploymentId);
    const name = workspaceServiceName(spec.sessionId);
    const token = randomBytes(32).toString('base64url');
    const port = devServerPort(spec);
    try {
      // This backend joins the network only once the workspace's task runs (see waitUntilRunning):
      // a join while the task starts can take the address the swarm gave the task ("starting
      // container failed: Address already in use"), and the task is replaced.
      const network = await this.createNetwork(name, labels);
      const id = await this.docker.createService(this.serviceSpec(spec, { name, labels, token, network, port }));
      this.targets.set(id, Promise.resolve({ id, host: name, token, network, port }));
      this.placing.set(id, null);
      return { id };
    } catch (error) {
      // Leave nothing behind: the service (if it was made) and the network carry the session label.
      await this.removeBySession(spec.sessionId).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Starts the dev server, once the task the swarm placed at create runs and its agent answers (the
   * first task on a node waits for that node's pull of the image). Answers once it is started, as a
   * started container runs on the docker runtime.
   */
  async start(id: string): Promise<void> {
    await this.agentJson(id, { method: 'POST', path: '/v1/dev-server/start', timeoutMs: this.options.operationTimeoutMs });
  }

  /** Stops the dev server (its container, volume and agent stay: files remain readable). Idempotent. */
  async stop(id: string, timeoutSeconds = 10): Promise<void> {
    await this.agentJson(id, {
      method: 'POST',
      path: '/v1/dev-server/stop',
      query: { graceMs: String(timeoutSeconds * 1000) },
      timeoutMs: timeoutSeconds * 1000 + this.options.operationTimeoutMs,
    }).catch((error: unknown) => {
      if (!(error instanceof WorkspaceUnreachableError)) throw error;
    });
  }

  async remove(id: string): Promise<void> {
    let target: ServiceTarget;
    try {
      target = await this.target(id);
    } catch (error) {
      if (error instanceof WorkspaceNotFoundError) return;
      throw error;
    }
    this.targets.delete(id);
    this.lost.delete(id);
    this.placing.delete(id);
    await this.docker.removeService(id);
    await this.removeNetwork(target.network);
  }

  async removeBySession(sessionId: string): Promise<void> {
    const label = `${WORKSPACE_LABELS.sessionId}=${sessionId}`;
    for (const service of await this.docker.listServices([label])) {
      this.targets.delete(service.ID);
      this.placing.delete(service.ID);
      await this.docker.removeService(service.ID);
    }
    for (const network of await this.docker.listNetworks([label])) await this.removeNetwork(network.Id);
  }

  async inspect(id: string): Promise<ContainerInfo> {
    const [service, tasks, nodes] = await Promise.all([this.inspectService(id), this.tasksOf(id), this.nodeStates()]);
    // The agent is asked only on a node the swarm still hears from: one that is gone drops packets,
    // and a health round would wait for each of its workspaces' timeouts.
    const running = tasks.find((task) => task.Status.State === 'running' && task.DesiredState === 'running');
    const reachable = running?.NodeID !== undefined && nodes.get(running.NodeID)?.Status.State === 'ready';
    const devServer = reachable
      ? await this.agentJson<DevServerState>(id, { method: 'GET', path: '/v1/state', timeoutMs: AGENT_STATE_TIMEOUT_MS }).catch(
          (error: unknown) => {
            // An agent that does not answer (yet, or any more): the task's own state says the rest.
            if (error instanceof WorkspaceUnreachableError || error instanceof RuntimeTimeoutError) return null;
            throw error;
          },
        )
      : null;
    const info = toWorkspaceInfo(service, tasks, nodes, devServer);
    if (info.lost) this.lost.add(id);
    return info;
  }

  async exec(id: string, command: string[], options: { timeoutMs?: number; user?: string } = {}): Promise<ExecResult> {
    if (options.user !== undefined && !['1000', WORKSPACE_USER, 'node'].includes(options.user)) {
      throw new Error(`the swarm runtime runs commands as the workspace user (${WORKSPACE_USER}) only, not ${options.user}`);
    }
    const timeoutMs = options.timeoutMs ?? this.options.operationTimeoutMs;
    return this.agentJson<ExecResult>(id, {
      method: 'POST',
      path: '/v1/exec',
      body: { command, timeoutMs },
      // The agent ends the command at its bound; the request waits a little longer for that answer.
      timeoutMs: timeoutMs + 5_000,
    });
  }

  async logs(id: string, options: { tail?: number } = {}): Promise<string[]> {
    try {
      return demuxLines(await this.docker.serviceLogs(id, options.tail ?? 200)).map((entry) => entry.line);
    } catch (error) {
      throw notFoundAsWorkspace(error, id);
    }
  }

  /**
   * The dev server's output from its agent (NDJSON lines), which ends the answer when the dev
   * server exits, as a stopped container's log stream ends on the docker runtime.
   */
  async followLogs(
    id: string,
    onLine: (line: LogLine) => void,
    options: { tail?: number; onEnd?: () => void } = {},
  ): Promise<() => void> {
    let pending = '';
    const deliver = (text: string): void => {
      if (!text) return;
      try {
        const entry = JSON.parse(text) as LogLine;
        if ((entry.stream === 'stdout' || entry.stream === 'stderr') && typeof entry.line === 'string') onLine(entry);
      } catch {
        // not a line of the agent's: skipped
      }
    };
    const decoder = new StringDecoder('utf8');
    return this.agentCall(
      id,
      { method: 'GET', path: '/v1/logs', query: { tail: String(options.tail ?? 0) }, timeoutMs: this.options.operationTimeoutMs },
      (target, call) =>
        this.agent.stream(
          target,
          call,
          (chunk) => {
            const lines = (pending + decoder.write(chunk)).split('\n');
            pending = lines.pop() ?? '';
            for (const line of lines) deliver(line);
          },
          () => {
            deliver(pending + decoder.end());
            pending = '';
            options.onEnd?.();
          },
        ),
    );
  }

  async stats(id: string): Promise<ContainerStats> {
    return this.agentJson<ContainerStats>(id, { method: 'GET', path: '/v1/stats', timeoutMs: this.options.operationTimeoutMs });
  }

  /**
   * Limits are fixed when the service is made: changing a swarm service's resources replaces its
   * task, and with it the workspace's files. So a live change is not applied; the CPU limit is
   * swarmCpuLimitCores from the start (see there, and the README's swarm section).
   */
  async updateResources(id: string, _resources: Partial<ResourceAllocation>): Promise<void> {
    await this.target(id);
  }

  /**
   * The task's address on the workspace network, resolved here (see resolveServiceName) so the
   * preview proxy, HMR relay and probes dial an address and never wait on the threadpool's lookups.
   * Stable for the workspace's life: a replaced task is a lost workspace. Callers send the dev
   * server's own Host header.
   */
  async address(id: string): Promise<WorkspaceAddress> {
    const target = await this.target(id);
    if (this.placing.has(id)) await this.placed(id, target);
    await this.join(target.network);
    for (let attempt = 1; ; attempt++) {
      try {
        return { host: await resolveServiceName(target.host), port: target.port };
      } catch (error) {
        // Not known yet (a task just started) or a temporary failure: asked again briefly. A
        // resolver that does not answer, or a name still unknown, is an agent call that found no one.
        const code = (error as NodeJS.ErrnoException).code ?? 'no answer';
        if (attempt >= DNS_RETRIES || code === 'ETIMEOUT') {
          await this.inspectService(id); // throws WorkspaceNotFoundError when the service is gone
          throw new WorkspaceUnreachableError(id, `${code} resolving ${target.host}`, { cause: error });
        }
        await sleep(250 * attempt);
      }
    }
  }

  async list(): Promise<ContainerInfo[]> {
    const [services, tasks, nodes] = await Promise.all([
      this.docker.listServices([`${WORKSPACE_LABELS.managed}=true`]),
      this.docker.listTasks(),
      this.nodeStates(),
    ]);
    return services.map((service) => toWorkspaceInfo(service, tasks, nodes, null));
  }

  /** The workspace networks: what a session leaves when its service is gone but its network is not. */
  async listVolumes(): Promise<WorkspaceVolumeInfo[]> {
    const networks = await this.docker.listNetworks([`${WORKSPACE_LABELS.managed}=true`]);
    return networks.map((network) => ({ name: network.Name, labels: network.Labels ?? {} }));
  }

  async readFile(id: string, path: string): Promise<Buffer> {
    const relative = normalizeWorkspacePath(path);
    return this.agentCall(id, { method: 'GET', path: '/v1/files', query: { path: relative }, timeoutMs: this.options.operationTimeoutMs }, (target, call) =>
      this.agent.bytes(target, call),
    );
  }

  async writeFile(id: string, path: string, content: Buffer): Promise<void> {
    const relative = normalizeWorkspacePath(path);
    await this.agentCall(
      id,
      { method: 'PUT', path: '/v1/files', query: { path: relative }, body: content, timeoutMs: this.options.operationTimeoutMs },
      (target, call) => this.agent.bytes(target, call),
    );
  }

  async listFiles(id: string): Promise<FileTreeEntry[]> {
    return this.agentJson<FileTreeEntry[]>(id, { method: 'GET', path: '/v1/tree', timeoutMs: this.options.operationTimeoutMs });
  }

  async readTree(id: string): Promise<WorkspaceFileContent[]> {
    const tree = await this.agentJson<{ files: Array<{ path: string; content: string }>; skipped: string[] }>(id, {
      method: 'GET',
      path: '/v1/tree',
      query: { content: '1' },
      timeoutMs: this.options.operationTimeoutMs,
    });
    if (tree.skipped.length > 0) this.logger.warn(`workspace ${id}: files too large for its tree left out: ${tree.skipped.join(', ')}`);
    return tree.files.map((file) => ({ path: file.path, content: Buffer.from(file.content, 'base64') }));
  }

  /**
   * The agent walks the workspace's files (its volume is on whichever node runs it: no statfs of
   * its own). Not cheap: the storage service counts writes between measurements, and the health
   * monitor measures every running workspace each round and ends one over the limit.
   */
  diskUsage(id: string): Promise<DiskUsage> {
    // Bounded like the agent's state: each health round measures every workspace.
    return this.agentJson<DiskUsage>(id, { method: 'GET', path: '/v1/disk-usage', timeoutMs: AGENT_STATE_TIMEOUT_MS });
  }

  async applyChanges(id: string, changes: { writes: WorkspaceFileContent[]; deletes: string[] }): Promise<void> {
    await this.agentCall(
      id,
      {
        method: 'POST',
        path: '/v1/changes',
        body: {
          writes: changes.writes.map((file) => ({ path: normalizeWorkspacePath(file.path), content: file.content.toString('base64') })),
          deletes: changes.deletes.map((path) => normalizeWorkspacePath(path)),
        },
        timeoutMs: this.options.operationTimeoutMs,
      },
      (target, call) => this.agent.bytes(target, call),
    );
  }

  onModuleDestroy(): void {
    this.agent.close();
  }

  // ---------------------------------------------------------------- helpers

  /**
   * Waits until the workspace's task runs and its agent answers: within the start timeout, plus the
   * pull timeout while its node pulls the image (`preparing`). A task the swarm gave up on (its
   * restarts spent) ends the wait with the swarm's own reason; one no node can take (`pending`,
   * "no suitable node") ends it at the start timeout, saying so.
   */
  private async waitUntilRunning(id: string, target: ServiceTarget): Promise<void> {
    const startedAt = Date.now();
    let last = 'no task yet';
    // What the wait went through, for the debug log: a slow start says where its time went.
    const phases: string[] = [];
    const note = (phase: string): void => {
      if (phase !== last) phases.push(`${Date.now() - startedAt} ms: ${phase}`);
      last = phase;
    };
    for (;;) {
      const tasks = await this.tasksOf(id);
      // A task the swarm restarts after a delay waits with desired state `ready` until it is due.
      const current = tasks
        .filter((task) => task.DesiredState === 'running' || task.DesiredState === 'ready')
        .sort((a, b) => (a.CreatedAt < b.CreatedAt ? 1 : -1))[0];
      if (!current && tasks.length > 0) {
        const ended = [...tasks].sort((a, b) => (a.CreatedAt < b.CreatedAt ? 1 : -1))[0];
        throw new Error(`the swarm gave up starting workspace ${id}: its task ${ended.Status.State}${ended.Status.Err ? ` (${ended.Status.Err})` : ''}`);
      }
      if (current?.Status.State === 'running') {
        await this.join(target.network);
        const silent = await this.agent.json(target, { method: 'GET', path: '/v1/state', timeoutMs: 2_000 }).then(
          () => null,
          (error: unknown) => {
            if (error instanceof WorkspaceUnreachableError || error instanceof RuntimeTimeoutError) return error.message;
            throw error;
          },
        );
        if (silent === null) {
          this.logger.debug(`workspace ${id}: its agent answered after ${Date.now() - startedAt} ms (${phases.join('; ')})`);
          return;
        }
        note(`its task runs; its agent does not answer yet (${silent})`);
      } else if (current) {
        note(`its task is ${current.Status.State}${current.Status.Err ? ` (${current.Status.Err})` : current.Status.Message ? ` (${current.Status.Message})` : ''}`);
      }
      const boundMs = this.options.startTimeoutMs + (current?.Status.State === 'preparing' ? this.options.pullTimeoutMs : 0);
      if (Date.now() - startedAt > boundMs) throw new RuntimeTimeoutError(`start of workspace ${id}: ${last}`, boundMs);
      await sleep(50);
    }
  }

  private async assertManager(): Promise<void> {
    const { state, manager } = await this.docker.swarmState();
    if (!manager) {
      throw new RuntimeUnavailableError(
        `the Docker engine at ${this.docker.endpoint} is not a swarm manager (swarm state: ${state}); RUNTIME=swarm needs one`,
      );
    }
  }

  private serviceSpec(
    spec: ContainerSpec,
    workspace: { name: string; labels: Record<string, string>; token: string; network: string; port: number },
  ): Dockerode.ServiceSpec {
    const { name, labels, token, network, port } = workspace;
    return {
      Name: name,
      Labels: labels,
      TaskTemplate: {
        ContainerSpec: {
          Image: spec.image,
          Labels: labels,
          // The agent supervises the image's own entrypoint running the dev server.
          Command: ['node', WORKSPACE_AGENT_SCRIPT],
          Args: [WORKSPACE_ENTRYPOINT, ...devServerCommand(port)],
          Env: envList({
            ...devServerEnv(spec, port),
            WORKSPACE_AGENT_PORT: String(WORKSPACE_AGENT_PORT),
            [WORKSPACE_AGENT_TOKEN_ENV]: token,
          }),
          Dir: WORKSPACE_DIR,
          User: WORKSPACE_USER,
          ReadOnly: true,
          Init: true,
          CapabilityDrop: ['ALL'],
          HealthCheck: workspaceHealthcheck(this.options.healthcheckIntervalMs),
          Mounts: [
            // Anonymous: filled from the image's /app, removed with the task's container on its node.
            // Labelled like the service, so what a node still holds can be told apart from others'.
            { Type: 'volume', Target: WORKSPACE_DIR, VolumeOptions: { Labels: labels } },
            ...Object.entries(WORKSPACE_TMPFS).map(([Target, SizeBytes]) => ({ Type: 'tmpfs' as const, Target, TmpfsOptions: { SizeBytes } })),
          ] as Dockerode.MountSettings[],
          StopGracePeriod: 10 * NANO,
        },
        Resources: {
          Limits: {
            NanoCPUs: Math.round(this.options.swarmCpuLimitCores * NANO),
            MemoryBytes: spec.resources.memoryBytes,
            Pids: spec.resources.pidsLimit,
          },
          Reservations: {
            NanoCPUs: Math.round(this.options.swarmCpuReservationCores * NANO),
            MemoryBytes: spec.resources.memoryBytes,
          },
        },
        RestartPolicy: { Condition: 'on-failure', MaxAttempts: RESTART_ATTEMPTS, Delay: NANO },
        Placement: { Constraints: this.options.swarmPlacementConstraints },
        Networks: [{ Target: network }],
        LogDriver: { Name: 'json-file', Options: { 'max-size': '2m', 'max-file': '2' } },
      },
      // Placed at once: the agent holds the dev server until start(), so files written in between
      // (a project's, laid out over the template) are what its first build sees.
      Mode: { Replicated: { Replicas: 1 } },
      // The service name resolves to its task's address; a virtual IP would not answer across nodes here.
      EndpointSpec: { Mode: 'dnsrr' },
    };
  }

  /**
   * The workspace's own network: an internal overlay (no way out of the cluster, no gateway), which
   * nothing but the workspace and this backend's container joins, so no workspace reaches another.
   */
  private async createNetwork(name: string, labels: Record<string, string>): Promise<string> {
    try {
      return await this.docker.createNetwork({
        Name: name,
        Driver: 'overlay',
        Internal: true,
        Attachable: true,
        CheckDuplicate: true,
        Labels: labels,
      });
    } catch (error) {
      if (dockerStatusCode(error) !== 409) throw error;
      // Left by an earlier attempt for the same session: ours to use.
      const [existing] = (await this.docker.listNetworks([`${WORKSPACE_LABELS.sessionId}=${labels[WORKSPACE_LABELS.sessionId]}`])).filter(
        (network) => network.Name === name,
      );
      if (!existing) throw error;
      return existing.Id;
    }
  }

  /** Joins this backend's container to a workspace network, once per process and network. */
  private join(network: string): Promise<void> {
    let joined = this.joined.get(network);
    if (!joined) {
      const startedAt = Date.now();
      joined = this.connectWhenOnNode(network).then(
        () => this.logger.debug(`joined workspace network ${network} in ${Date.now() - startedAt} ms`),
      ).catch((error: unknown) => {
        this.joined.delete(network);
        if (dockerStatusCode(error) === 404 && /container/i.test(dockerErrorMessage(error))) {
          throw new RuntimeUnavailableError(
            `the swarm runtime joins each workspace network with this backend's container "${this.attachContainer}" (SWARM_ATTACH_CONTAINER, default the host name), which the engine does not know: run the API as a container on a manager`,
            { cause: error },
          );
        }
        throw error;
      });
      this.joined.set(network, joined);
    }
    return joined;
  }

  /**
   * Connects this backend's container to a workspace network. When that container is itself a
   * swarm task (the API as a service, as in deploy/stack.yml), the engine knows an overlay only once
   * a task on this node uses it: until the workspace's task lands here, the connect answers 404
   * "network … not found", so it is asked again until NETWORK_JOIN_MS.
   */
  private async connectWhenOnNode(network: string): Promise<void> {
    const deadline = Date.now() + NETWORK_JOIN_MS;
    for (;;) {
      try {
        return await this.docker.connectNetwork(network, this.attachContainer);
      } catch (error) {
        const notOnNodeYet = dockerStatusCode(error) === 404 && /network .* not found/i.test(dockerErrorMessage(error));
        if (!notOnNodeYet || Date.now() > deadline || !this.joined.has(network)) throw error;
        await sleep(250);
      }
    }
  }

  /** Leaves and removes a workspace network, waiting while the swarm still frees it from the task. */
  private async removeNetwork(network: string): Promise<void> {
    // A join still under way (create does not wait for it) would attach after the disconnect; one
    // still waiting for the network to reach this node gives up once its entry is gone.
    const joining = this.joined.get(network);
    this.joined.delete(network);
    await joining?.catch(() => undefined);
    await this.docker.disconnectNetwork(network, this.attachContainer);
    const deadline = Date.now() + NETWORK_RELEASE_MS;
    for (;;) {
      try {
        await this.docker.removeNetwork(network);
        return;
      } catch (error) {
        // "in use by task …": the workspace's task, or this container's attachment, still holds it.
        if (!/in use|active endpoints/i.test(dockerErrorMessage(error))) throw error;
        if (Date.now() > deadline) {
          this.logger.warn(`workspace network ${network} is still in use after ${NETWORK_RELEASE_MS} ms; reconciliation removes it later`);
          return;
        }
        await sleep(250);
      }
    }
  }

  private async target(id: string): Promise<ServiceTarget> {
    let target = this.targets.get(id);
    if (!target) {
      target = this.inspectService(id).then((service) => {
        const spec = service.Spec?.TaskTemplate as Dockerode.ContainerTaskSpec | undefined;
        const network = spec?.Networks?.[0]?.Target;
        const token = serviceEnv(service, WORKSPACE_AGENT_TOKEN_ENV);
        if (!network || !token || !service.Spec?.Name) {
          throw new Error(`service ${id} is not a workspace of the swarm runtime (no network or agent secret)`);
        }
        return { id, host: service.Spec.Name, token, network, port: devServerPortOf(service, DEFAULT_CONTAINER_PORT) };
      });
      this.targets.set(id, target);
      target.catch(() => this.targets.delete(id));
    }
    return target;
  }

  private agentJson<T>(id: string, call: AgentRequest): Promise<T> {
    return this.agentCall(id, call, (target, request) => this.agent.json<T>(target, request));
  }

  /** A call to the workspace's agent; an agent that does not answer because the service is gone is a missing workspace. */
  private async agentCall<T>(id: string, call: AgentRequest, send: (target: AgentTarget, call: AgentRequest) => Promise<T>): Promise<T> {
    if (this.lost.has(id)) throw new WorkspaceNotFoundError(id);
    const target = await this.target(id);
    if (this.placing.has(id)) await this.placed(id, target);
    await this.join(target.network);
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          return await send(target, call);
        } catch (error) {
          // The engine's DNS did not answer in time (seen under load, while a lost node's networks
          // are still being freed): a temporary failure by definition, so asked again, briefly.
          // Not a resolver that does not answer (ETIMEOUT): asking again would only add its bound.
          const temporary = error instanceof WorkspaceUnreachableError && /EAI_AGAIN|ESERVFAIL/.test(error.message);
          if (!temporary || attempt >= DNS_RETRIES) throw error;
          await sleep(250 * attempt);
        }
      }
    } catch (error) {
      if (error instanceof WorkspaceUnreachableError) {
        this.targets.delete(id);
        await this.inspectService(id); // throws WorkspaceNotFoundError when the service is gone
      }
      throw error;
    }
  }

  /** Waits (once, for every call that needs it) until a workspace made here runs and its agent answers. */
  private placed(id: string, target: ServiceTarget): Promise<void> {
    let wait = this.placing.get(id);
    if (!wait) {
      wait = this.waitUntilRunning(id, target).then(
        () => {
          this.placing.delete(id);
        },
        (error: unknown) => {
          // The next call waits again (a removal meanwhile ends the wait: it deletes the entry).
          if (this.placing.get(id) === wait) this.placing.set(id, null);
          throw error;
        },
      );
      this.placing.set(id, wait);
    }
    return wait;
  }

  /** The tasks (history included) of a workspace's service; an unknown service is a missing workspace. */
  private async tasksOf(id: string): Promise<SwarmTask[]> {
    try {
      return await this.docker.listTasks([id]);
    } catch (error) {
      throw notFoundAsWorkspace(error, id);
    }
  }

  private async inspectService(id: string): Promise<Dockerode.Service> {
    try {
      return await this.docker.inspectService(id);
    } catch (error) {
      throw notFoundAsWorkspace(error, id);
    }
  }

  private nodeStates(): Promise<Map<string, SwarmNode>> {
    if (!this.nodes || Date.now() - this.nodes.at > NODES_CACHE_MS) {
      const value = this.docker.listNodes().then((nodes) => new Map(nodes.map((node) => [node.ID, node])));
      this.nodes = { at: Date.now(), value };
      value.catch(() => {
        if (this.nodes?.value === value) this.nodes = null;
      });
    }
    return this.nodes.value;
  }

}

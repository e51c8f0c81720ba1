import type {
  ContainerInfo,
  ContainerSpec,
  ContainerStats,
  ExecResult,
  FileTreeEntry,
  ResourceAllocation,
} from '@builder/shared';
import type { LogLine } from './docker-frames.util';

export type { LogLine } from './docker-frames.util';

/** Injection token of the active {@link WorkspaceRuntime}. */
export const WORKSPACE_RUNTIME = Symbol('WORKSPACE_RUNTIME');

export type RuntimeKind = 'docker' | 'local' | 'swarm';

/** Where the backend reaches a workspace's dev server (never assumed to be localhost). */
export interface WorkspaceAddress {
  host: string;
  port: number;
}

/** Label keys put on everything a runtime creates, so reconciliation can find it. */
export const WORKSPACE_LABELS = {
  managed: 'dev.builder.managed',
  sessionId: 'dev.builder.session-id',
  userId: 'dev.builder.user-id',
  template: 'dev.builder.template',
  /** Which deployment (backends sharing one database) made it; reconciliation touches only its own. */
  deployment: 'dev.builder.deployment',
} as const;

/** A workspace file and its content. */
export interface WorkspaceFileContent {
  path: string;
  content: Buffer;
}

/**
 * Bytes a workspace's files take on disk (allocated, as `du` counts them), caches included; the
 * dependencies shared from the image or template do not count.
 */
export interface DiskUsage {
  usedBytes: number;
  /**
   * Read in microseconds (a file system of the workspace's own: statfs), so a caller may ask
   * before every write; false when it took a walk of the files or a process in the workspace.
   */
  cheap: boolean;
}

/** A volume the runtime keeps for a workspace, with its labels. */
export interface WorkspaceVolumeInfo {
  name: string;
  labels: Record<string, string>;
}

/**
 * The only way the backend touches a workspace: lifecycle, files, exec, logs, stats and its
 * network address. `docker`, `local` and `swarm` implement it.
 * Every method throws {@link RuntimeUnavailableError} when the engine does not answer and
 * {@link WorkspaceNotFoundError} for an id it does not know (except `remove`, which is idempotent);
 * `swarm` throws WorkspaceUnreachableError when a workspace it knows does not answer over its network.
 */
export interface WorkspaceRuntime {
  readonly kind: RuntimeKind;
  /**
   * Whether each workspace publishes its dev server on a host port of PORT_RANGE (`docker`,
   * `local`). A `swarm` workspace publishes nothing: it is reached over its network only.
   */
  readonly publishesHostPorts: boolean;
  /** Resolves when the engine answers. */
  ping(): Promise<void>;
  /** Makes the image available (pull only when missing). No-op for `local`. */
  ensureImage(image: string, onProgress?: (message: string) => void): Promise<'present' | 'pulled'>;
  /** Creates the workspace (container + its own volume holding the template's files). */
  create(spec: ContainerSpec): Promise<{ id: string }>;
  start(id: string): Promise<void>;
  /** Stops gracefully (SIGTERM, then SIGKILL after `timeoutSeconds`). Idempotent. */
  stop(id: string, timeoutSeconds?: number): Promise<void>;
  /** Removes the workspace and its volume. Idempotent: an unknown id is not an error. */
  remove(id: string): Promise<void>;
  /**
   * Removes everything the runtime holds for a session (containers, volume or folder), also when
   * `create` failed half-way and no workspace id was ever returned. Idempotent.
   */
  removeBySession?(sessionId: string): Promise<void>;
  inspect(id: string): Promise<ContainerInfo>;
  exec(id: string, command: string[], options?: { timeoutMs?: number; user?: string }): Promise<ExecResult>;
  /** Recent output lines of the dev server. */
  logs(id: string, options?: { tail?: number }): Promise<string[]>;
  /**
   * Follows the dev server's output: `onLine` gets its last `tail` lines (default 0), then every
   * line as it is printed, until the answered function is called or the output ends (the
   * workspace stopped; `onEnd` is called then, not after an unsubscribe).
   */
  followLogs(
    id: string,
    onLine: (line: LogLine) => void,
    options?: { tail?: number; onEnd?: () => void },
  ): Promise<() => void>;
  stats(id: string): Promise<ContainerStats>;
  /** Changes limits of a live workspace (the CPU quota is applied once the dev server is ready). */
  updateResources(id: string, resources: Partial<ResourceAllocation>): Promise<void>;
  /** Network address of the dev server as seen from the backend. */
  address(id: string): Promise<WorkspaceAddress>;
  /** Workspaces this runtime manages (carrying {@link WORKSPACE_LABELS}.managed), for reconciliation. */
  list(): Promise<ContainerInfo[]>;
  /**
   * Workspaces in which the kernel's OOM killer ended a process between `since` and `until` (the
   * dev server itself, or any process started in it), by workspace id.
   */
  oomKills?(since: Date, until: Date): Promise<string[]>;
  /**
   * What a workspace leaves besides itself (carrying {@link WORKSPACE_LABELS}.managed), also when no
   * workspace uses it any more: the `docker` runtime's volumes, the `swarm` runtime's networks.
   */
  listVolumes?(): Promise<WorkspaceVolumeInfo[]>;
  /** Reads a workspace file. `path` is relative and already validated by the caller. */
  readFile(id: string, path: string): Promise<Buffer>;
  /** Writes a workspace file, creating parent folders, owned by the workspace's user. */
  writeFile(id: string, path: string, content: Buffer): Promise<void>;
  /** The workspace's files, without node_modules, .astro, .vite and .git. */
  listFiles(id: string): Promise<FileTreeEntry[]>;
  /**
   * Every regular file of the workspace with its content (without node_modules, .astro, .vite and
   * .git; no symlinks): what a snapshot of the project keeps. Works on a stopped workspace where the
   * runtime can. Files larger than the runtime's read limit are left out (and logged).
   */
  readTree(id: string): Promise<WorkspaceFileContent[]>;
  /**
   * Deletes paths (a missing one is not an error) and writes files (creating folders, owned by the
   * workspace's user), as one batch: deletes first, then new files, then changed ones, as close
   * together as the runtime can, so a dev server reloads a page once and finds every new file it
   * imports. Paths are relative and already validated by the caller. Deletes need a running
   * workspace where the runtime has no other way in.
   */
  applyChanges(id: string, changes: { writes: WorkspaceFileContent[]; deletes: string[] }): Promise<void>;
  /** Disk space the workspace's files take (see {@link DiskUsage}), for the storage limit. */
  diskUsage(id: string): Promise<DiskUsage>;
}

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, rm, symlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type {
  ContainerInfo,
  ContainerSpec,
  ContainerStats,
  ExecResult,
  FileTreeEntry,
  ResourceAllocation,
} from '@builder/shared';
import { ConfinedFs } from './confined-fs.util';
import { DEV_SERVER_ENV, DEV_SERVER_NODE_FLAGS } from './dev-server.constants';
import { LineRing, type LogLine, OutputTail } from './docker-frames.util';
import { groupAlive, readGroupUsage, signalGroup } from './process-group.util';
import { RUNTIME_OPTIONS, type RuntimeOptions } from './runtime-options';
import { PortUnavailableError, RuntimeTimeoutError, WorkspaceNotFoundError } from './runtime.errors';
import { assertSessionId } from './workspace-path.util';
import { workspaceLabels } from './workspace-container.util';
import {
  type DiskUsage,
  type WorkspaceAddress,
  type WorkspaceFileContent,
  type WorkspaceRuntime,
} from './workspace-runtime.interface';

const LOCAL_HOST = '127.0.0.1';
const LOG_LINES = 2_000;
const EXEC_OUTPUT_BYTES = 1024 * 1024;
/** Template entries a workspace does not get a copy of (dependencies are linked, output is rebuilt). */
const SKIPPED_TEMPLATE_ENTRIES: ReadonlySet<string> = new Set([
  'node_modules',
  '.astro',
  '.vite',
  'dist',
  'Dockerfile',
  '.git',
]);

/**
 * Runs the dev server under a small sh watchdog, the leader of the workspace's process group. The
 * backend holds the write end of the watchdog's stdin; when the backend dies in any way (even
 * SIGKILL) the read end sees EOF and the watchdog takes the group down (TERM, KILL after 3 s).
 * On SIGTERM it forwards to the dev server and exits with its status once it is gone.
 */
export const WATCHDOG_SCRIPT = [
  'exec 3<&0 0</dev/null',
  '"$@" 3<&- &',
  'child=$!',
  "( trap '' TERM; while read -r _ <&3; do :; done; kill -TERM 0 2>/dev/null; sleep 3; kill -KILL 0 2>/dev/null ) &",
  'watcher=$!',
  'exec 3<&-',
  'trap \'kill -TERM "$child" 2>/dev/null\' TERM INT',
  'wait "$child"; status=$?',
  'while kill -0 "$child" 2>/dev/null; do wait "$child"; status=$?; done',
  'kill -KILL "$watcher" 2>/dev/null',
  'exit "$status"',
].join('\n');

interface LocalWorkspace {
  id: string;
  spec: ContainerSpec;
  dir: string;
  files: ConfinedFs;
  labels: Record<string, string>;
  logs: LineRing;
  /** Followers of the output, told when the dev server exits (its output ends there). */
  followerEnds: Set<() => void>;
  child: ChildProcess | null;
  exited: Promise<void> | null;
  state: 'created' | 'running' | 'exited';
  /** Set while the runtime itself ends the dev server, so its exit is not reported as a failure. */
  stopping: boolean;
  exitCode: number | null;
  startedAt: string | null;
  cpuSample: { cpuSeconds: number; at: number } | null;
}

/**
 * The embedded runtime for machines without a Docker engine: each workspace is a folder under
 * `<dataDir>/workspaces/<sessionId>` (the template's sources and a node_modules symlink to the
 * template's own) and `astro dev` runs as a child process group of the backend. There is no
 * isolation beyond the file confinement of read/write/list: it is a development runtime.
 */
@Injectable()
export class LocalRuntime implements WorkspaceRuntime, OnModuleDestroy {
  readonly kind = 'local' as const;
  readonly publishesHostPorts = true;
  private readonly logger = new Logger(LocalRuntime.name);
  private readonly workspaces = new Map<string, LocalWorkspace>();
  private readonly execs = new Set<ChildProcess>();
  private templateDeps: Promise<void> | null = null;

  constructor(@Inject(RUNTIME_OPTIONS) private readonly options: RuntimeOptions) {}

  async ping(): Promise<void> {}

  async ensureImage(): Promise<'present' | 'pulled'> {
    return 'present';
  }

  async create(spec: ContainerSpec): Promise<{ id: string }> {
    const id = assertSessionId(spec.sessionId);
    if (this.workspaces.has(id)) throw new Error(`workspace ${id} already exists`);
    const dir = this.workspaceDir(id);
    // Registered before the first await, so a concurrent create of the same session is refused.
    this.workspaces.set(id, {
      id,
      spec,
      dir,
      files: new ConfinedFs(dir),
      labels: workspaceLabels(spec),
      logs: new LineRing(LOG_LINES),
      followerEnds: new Set(),
      child: null,
      exited: null,
      state: 'created',
      stopping: false,
      exitCode: null,
      startedAt: null,
      cpuSample: null,
    });
    try {
      await this.ensureTemplateDeps();
      await mkdir(dir, { recursive: true, mode: 0o755 });
      // Like a Docker volume that outlives its container, an existing folder keeps its files.
      if ((await readdir(dir)).length === 0) {
        await cp(this.options.templateDir, dir, {
          recursive: true,
          verbatimSymlinks: true,
          filter: (source) =>
            !SKIPPED_TEMPLATE_ENTRIES.has(source.slice(this.options.templateDir.length + 1).split('/')[0]),
        });
      }
      if (!existsSync(join(dir, 'node_modules'))) {
        await symlink(join(this.options.templateDir, 'node_modules'), join(dir, 'node_modules'), 'dir');
      }
    } catch (error) {
      this.workspaces.delete(id);
      throw error;
    }
    return { id };
  }

  async start(id: string): Promise<void> {
    const workspace = this.get(id);
    if (workspace.state === 'running') return;
    const port = workspace.spec.hostPort;
    // Astro silently moves to the next port when its port is taken; the backend must not be fooled.
    await assertPortFree(LOCAL_HOST, port);
    const astro = join(this.options.templateDir, 'node_modules', 'astro', 'astro.js');
    const child = spawn(
      '/bin/sh',
      [
        '-c',
        WATCHDOG_SCRIPT,
        'workspace-watchdog',
        process.execPath,
        ...DEV_SERVER_NODE_FLAGS,
        astro,
        'dev',
        '--host',
        LOCAL_HOST,
        '--port',
        String(port),
      ],
      { cwd: workspace.dir, env: this.childEnv(workspace), detached: true, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    workspace.child = child;
    workspace.state = 'running';
    workspace.stopping = false;
    workspace.exitCode = null;
    workspace.startedAt = new Date().toISOString();
    workspace.cpuSample = null;
    // setEncoding keeps a character cut between two chunks whole.
    child.stdout?.setEncoding('utf8').on('data', (text: string) => workspace.logs.write('stdout', text));
    child.stderr?.setEncoding('utf8').on('data', (text: string) => workspace.logs.write('stderr', text));
    // The watchdog only ever sees EOF on its stdin; a write error after it exited is expected.
    child.stdin?.on('error', () => undefined);
    workspace.exited = new Promise<void>((resolve) => {
      child.once('error', (error) => {
        workspace.logs.push(`[runtime] could not start the dev server: ${error.message}`);
        this.markExited(workspace, child, 127);
        resolve();
      });
      child.once('exit', (code, signal) => {
        this.markExited(workspace, child, code ?? 128 + signalNumber(signal));
        resolve();
      });
    });
  }

  async stop(id: string, timeoutSeconds = 10): Promise<void> {
    const workspace = this.get(id);
    await this.terminate(workspace, timeoutSeconds * 1000);
  }

  async remove(id: string): Promise<void> {
    const workspace = this.workspaces.get(id);
    if (workspace) {
      await this.terminate(workspace, 0);
      this.workspaces.delete(id);
    }
    // Also a folder left by an earlier backend process (its children died with it).
    let dir: string;
    try {
      dir = this.workspaceDir(assertSessionId(id));
    } catch {
      return; // not a session id: nothing of ours can be named by it
    }
    await rm(dir, { recursive: true, force: true });
  }

  /** Local workspace ids are session ids. */
  removeBySession(sessionId: string): Promise<void> {
    return this.remove(sessionId);
  }

  async inspect(id: string): Promise<ContainerInfo> {
    return this.info(this.get(id));
  }

  async exec(
    id: string,
    command: string[],
    options: { timeoutMs?: number; user?: string } = {},
  ): Promise<ExecResult> {
    // `user` is ignored: a local workspace runs as the backend's own user.
    const workspace = this.get(id);
    if (command.length === 0) throw new Error('exec needs a command');
    const timeoutMs = options.timeoutMs ?? this.options.operationTimeoutMs;
    const child = spawn(command[0], command.slice(1), {
      cwd: workspace.dir,
      env: this.childEnv(workspace),
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.execs.add(child);
    const stdout = new OutputTail(EXEC_OUTPUT_BYTES);
    const stderr = new OutputTail(EXEC_OUTPUT_BYTES);
    child.stdout?.on('data', (chunk: Buffer) => stdout.append(chunk));
    child.stderr?.on('data', (chunk: Buffer) => stderr.append(chunk));
    let timer: NodeJS.Timeout | undefined;
    try {
      const exitCode = await new Promise<number>((resolve, reject) => {
        timer = setTimeout(() => {
          if (child.pid) signalGroup(child.pid, 'SIGKILL');
          reject(new RuntimeTimeoutError(`exec ${JSON.stringify(command)} in ${id}`, timeoutMs));
        }, timeoutMs);
        child.once('error', (error: NodeJS.ErrnoException) => {
          // Like a shell: a command that cannot be found exits 127.
          stderr.append(Buffer.from(`${command[0]}: ${error.message}\n`));
          resolve(error.code === 'ENOENT' ? 127 : 126);
        });
        child.once('close', (code, signal) => resolve(code ?? 128 + signalNumber(signal)));
      });
      return { exitCode, stdout: stdout.toString(), stderr: stderr.toString() };
    } finally {
      clearTimeout(timer);
      this.execs.delete(child);
    }
  }

  async logs(id: string, options: { tail?: number } = {}): Promise<string[]> {
    return this.get(id).logs.tail(options.tail ?? 200);
  }

  /** The output of every run of the dev server goes to the same lines, so a restart does not end it. */
  async followLogs(
    id: string,
    onLine: (line: LogLine) => void,
    options: { tail?: number; onEnd?: () => void } = {},
  ): Promise<() => void> {
    const workspace = this.get(id);
    for (const line of workspace.logs.recent(options.tail ?? 0)) onLine(line);
    // As a stopped container's log stream: a dev server that does not run has no more output.
    if (workspace.state !== 'running') {
      options.onEnd?.();
      return () => undefined;
    }
    const unsubscribe = workspace.logs.subscribe(onLine);
    const ended = (): void => {
      unsubscribe();
      options.onEnd?.();
    };
    workspace.followerEnds.add(ended);
    return () => {
      workspace.followerEnds.delete(ended);
      unsubscribe();
    };
  }

  async stats(id: string): Promise<ContainerStats> {
    const workspace = this.get(id);
    const memoryLimitBytes = workspace.spec.resources.memoryBytes;
    const pgid = workspace.child?.pid;
    if (workspace.state !== 'running' || !pgid)
      return { cpuPercent: 0, memoryBytes: 0, memoryLimitBytes, pids: 0 };
    let previous = workspace.cpuSample;
    if (!previous) {
      // CPU use needs two samples: the first call waits a moment for its second one.
      const first = await readGroupUsage(pgid);
      previous = { cpuSeconds: first.cpuSeconds, at: Date.now() };
      await sleep(250);
    }
    const usage = await readGroupUsage(pgid);
    const now = Date.now();
    workspace.cpuSample = { cpuSeconds: usage.cpuSeconds, at: now };
    const elapsedSeconds = (now - previous.at) / 1000;
    const cpuPercent =
      elapsedSeconds > 0 ? Math.max(0, ((usage.cpuSeconds - previous.cpuSeconds) / elapsedSeconds) * 100) : 0;
    return {
      cpuPercent: Math.round(cpuPercent * 100) / 100,
      memoryBytes: usage.rssBytes,
      // Reported, not enforced: see updateResources.
      memoryLimitBytes,
      pids: usage.pids,
    };
  }

  /**
   * No-op: limiting a child process needs a cgroup of its own, which an unprivileged backend cannot
   * create. The local runtime is for development machines; quotas are enforced by `docker` only.
   */
  async updateResources(id: string, _resources: Partial<ResourceAllocation>): Promise<void> {
    this.get(id);
  }

  async address(id: string): Promise<WorkspaceAddress> {
    return { host: LOCAL_HOST, port: this.get(id).spec.hostPort };
  }

  async list(): Promise<ContainerInfo[]> {
    return [...this.workspaces.values()].map((workspace) => this.info(workspace));
  }

  readFile(id: string, path: string): Promise<Buffer> {
    return this.get(id).files.readFile(path);
  }

  writeFile(id: string, path: string, content: Buffer): Promise<void> {
    return this.get(id).files.writeFile(path, content);
  }

  listFiles(id: string): Promise<FileTreeEntry[]> {
    return this.get(id).files.listFiles();
  }

  async readTree(id: string): Promise<WorkspaceFileContent[]> {
    const tree = await this.get(id).files.readTree();
    if (tree.skipped.length > 0)
      this.logger.warn(`workspace ${id}: files too large for its tree left out: ${tree.skipped.join(', ')}`);
    return tree.files;
  }

  async applyChanges(
    id: string,
    changes: { writes: WorkspaceFileContent[]; deletes: string[] },
  ): Promise<void> {
    const files = this.get(id).files;
    // In the order the docker runtime keeps (see there): deletes, new files, changed files.
    for (const path of changes.deletes) await files.deleteFile(path);
    const existing = await Promise.all(changes.writes.map((write) => files.mayExist(write.path)));
    for (const [index, write] of changes.writes.entries())
      if (!existing[index]) await files.writeFile(write.path, write.content);
    for (const [index, write] of changes.writes.entries())
      if (existing[index]) await files.writeFile(write.path, write.content);
  }

  /** The workspace folder, walked: no kernel limit here (see WorkspaceStorageService for the checks). */
  diskUsage(id: string): Promise<DiskUsage> {
    return this.get(id).files.diskUsage();
  }

  /** Children never outlive the backend: a graceful shutdown stops them here (the watchdog covers crashes). */
  async onModuleDestroy(): Promise<void> {
    for (const child of this.execs) if (child.pid) signalGroup(child.pid, 'SIGKILL');
    await Promise.all([...this.workspaces.values()].map((workspace) => this.terminate(workspace, 3_000)));
  }

  private get(id: string): LocalWorkspace {
    const workspace = this.workspaces.get(id);
    if (!workspace) throw new WorkspaceNotFoundError(id);
    return workspace;
  }

  private workspaceDir(sessionId: string): string {
    return join(this.options.dataDir, 'workspaces', sessionId);
  }

  /** SIGTERM to the group, SIGKILL when it outlives the grace period (0: at once, like `docker rm -f`). */
  private async terminate(workspace: LocalWorkspace, graceMs: number): Promise<void> {
    const child = workspace.child;
    const pgid = child?.pid;
    if (!child || !pgid || !workspace.exited) return;
    if (workspace.state === 'running') {
      workspace.stopping = true;
      signalGroup(pgid, graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
      const exitedInTime = await Promise.race([
        workspace.exited.then(() => true),
        sleep(graceMs + 50).then(() => false),
      ]);
      if (!exitedInTime) signalGroup(pgid, 'SIGKILL');
      await workspace.exited;
    }
    // Whatever the dev server left in its group (esbuild, a stray worker) goes with it.
    for (let attempt = 0; (await groupAlive(pgid)) && attempt < 50; attempt++) {
      signalGroup(pgid, 'SIGKILL');
      await sleep(20);
    }
  }

  private markExited(workspace: LocalWorkspace, child: ChildProcess, code: number): void {
    if (workspace.child !== child || workspace.state !== 'running') return;
    workspace.state = 'exited';
    workspace.exitCode = code;
    for (const ended of workspace.followerEnds) ended();
    workspace.followerEnds.clear();
    if (!workspace.stopping && code !== 0)
      this.logger.warn(`dev server of workspace ${workspace.id} exited with ${code}`);
  }

  private info(workspace: LocalWorkspace): ContainerInfo {
    return {
      id: workspace.id,
      name: workspace.spec.name,
      state: workspace.state,
      health: 'none',
      exitCode: workspace.state === 'exited' ? workspace.exitCode : null,
      oomKilled: false,
      startedAt: workspace.startedAt,
      labels: workspace.labels,
    };
  }

  /** Only what a dev server needs: the backend's secrets (database URL, JWT key) stay out. */
  private childEnv(workspace: LocalWorkspace): NodeJS.ProcessEnv {
    const inherited = ['PATH', 'HOME', 'LANG', 'TZ', 'TMPDIR', 'npm_config_cache'];
    const env: NodeJS.ProcessEnv = {};
    for (const key of inherited) if (process.env[key] !== undefined) env[key] = process.env[key];
    return { ...env, ...workspace.spec.env, ...DEV_SERVER_ENV, VITE_CACHE_DIR: join(workspace.dir, '.vite') };
  }

  /** The template's node_modules is what every local workspace links to; install it once if missing. */
  private ensureTemplateDeps(): Promise<void> {
    if (existsSync(join(this.options.templateDir, 'node_modules', 'astro', 'astro.js')))
      return Promise.resolve();
    this.templateDeps ??= this.installTemplateDeps().finally(() => {
      this.templateDeps = null;
    });
    return this.templateDeps;
  }

  private async installTemplateDeps(): Promise<void> {
    this.logger.log(`installing the template's dependencies in ${this.options.templateDir} (npm ci)`);
    const output = new OutputTail(64 * 1024);
    const child = spawn('npm', ['ci', '--no-audit', '--no-fund'], {
      cwd: this.options.templateDir,
      env: { ...process.env, ...DEV_SERVER_ENV },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (chunk: Buffer) => output.append(chunk));
    child.stderr.on('data', (chunk: Buffer) => output.append(chunk));
    const code = await new Promise<number>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), this.options.pullTimeoutMs);
      child.once('error', () => resolve(127));
      child.once('close', (status) => {
        clearTimeout(timer);
        resolve(status ?? 1);
      });
    });
    if (code !== 0)
      throw new Error(
        `npm ci in ${this.options.templateDir} failed (${code}): ${output.toString().slice(-2000)}`,
      );
  }
}

async function assertPortFree(host: string, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE' || error.code === 'EACCES'
          ? new PortUnavailableError(port, error.message)
          : error,
      ),
    );
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve()));
  });
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return (signal && osConstants.signals[signal]) || 0;
}

import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { type FileTreeEntry, type Verdict, WorkspaceStatus } from '@builder/shared';
import type { Logger } from 'pino';
import { AppConfig } from '../../config/app-config';
import { InvalidFileError } from '../../shared/errors/invalid-file.error';
import { ProjectNotFoundError } from '../../shared/errors/project-not-found.error';
import { WorkspaceConflictError } from '../../shared/errors/workspace-conflict.error';
import { WorkspaceNotFoundError } from '../../shared/runtime/runtime.errors';
import { WORKSPACE_RUNTIME, type WorkspaceRuntime } from '../../shared/runtime/workspace-runtime.interface';
import { ROOT_LOGGER } from '../../shared/logging/logging.module';
import type {
  FileContentDto,
  FileTreeDto,
  WriteFileResultDto,
  WrittenVersionDto,
} from './dto/workspace-file.dto';
import { type FileChange, parseFileWrite } from './edit-batch.validation';
import { ProjectSyncService } from './project-sync.service';
import { WorkspaceVerdictService } from './verdict/workspace-verdict.service';
import { ProjectVersionsService } from '../projects/project-versions.service';
import type { WorkspaceSessionEntity } from './entities/session.entity';
import { parseWorkspacePath } from '../../shared/paths/workspace-file-path';
import { WorkspaceEventsService } from './workspace-events.service';
import { WorkspaceSessionRepository } from './workspace-session.repository';
import { WorkspaceStorageService } from './workspace-storage.service';

const utf8 = new TextDecoder('utf-8', { fatal: true });
/** How long a running session's owner and workspace are reused by file calls. */
const RUNNING_CACHE_MS = 10_000;
/**
 * Least time between two writes of one file of a workspace. The dev server's file watcher
 * (chokidar, in Vite) drops a change that comes within 5 ms of the previous one of the same file,
 * for good: measured in the tests, a write answered and the next one sent at once left the dev
 * server (and the preview) with the first. Only writes that close together wait.
 */
const WRITE_GAP_MS = 25;

/**
 * Files of a running session, as UTF-8 text. Paths are validated here (refused, never
 * normalized) and confined again by the runtime, which also sees symlinks.
 */
@Injectable()
export class WorkspaceFilesService implements OnModuleDestroy {
  /** Running sessions' owner and workspace, so an edit needs no database read (see {@link workspaceOf}). */
  private readonly running = new Map<
    string,
    { userId: string; containerId: string; projectId: string | null; until: number }
  >();
  private readonly offStatus: () => void;
  private readonly log: Logger;
  /** When each file of each workspace was last written through this service (`performance.now()`). */
  private readonly lastWrites = new Map<string, Map<string, number>>();

  constructor(
    private readonly config: AppConfig,
    private readonly sessions: WorkspaceSessionRepository,
    private readonly versions: ProjectVersionsService,
    private readonly sync: ProjectSyncService,
    private readonly verdicts: WorkspaceVerdictService,
    @Inject(WORKSPACE_RUNTIME) private readonly runtime: WorkspaceRuntime,
    private readonly storage: WorkspaceStorageService,
    @Inject(ROOT_LOGGER) logger: Logger,
    events: WorkspaceEventsService,
  ) {
    this.log = logger.child({ context: 'WorkspaceFiles' });
    this.offStatus = events.on('status', (event) => {
      this.running.delete(event.sessionId);
      this.lastWrites.delete(event.sessionId);
    });
  }

  onModuleDestroy(): void {
    this.offStatus();
  }

  async list(userId: string, id: string): Promise<FileTreeDto> {
    return { entries: await this.tree(await this.runningWorkspace(userId, id)) };
  }

  async read(userId: string, id: string, rawPath: unknown): Promise<FileContentDto> {
    const session = await this.workspaceOf(userId, id);
    const path = parseWorkspacePath(rawPath, { forWrite: false });
    const content = await this.forgetIfGone(id, this.runtime.readFile(requireRunning(session), path));
    if (content.length > this.config.files.maxBytes) {
      throw new InvalidFileError(
        `${path} is ${content.length} bytes; files over ${this.config.files.maxBytes} bytes (MAX_FILE_BYTES) are not served`,
      );
    }
    try {
      return { path, content: utf8.decode(content) };
    } catch {
      throw new InvalidFileError(`${path} is not UTF-8 text`);
    }
  }

  /** `PUT .../files/<path>`: one file, grouped with quick rewrites of it into one version. */
  async write(
    userId: string,
    id: string,
    rawPath: unknown,
    content: unknown,
    options: { verify: boolean } = { verify: false },
  ): Promise<WriteFileResultDto> {
    const owned = await this.workspaceOf(userId, id);
    const write = parseFileWrite(rawPath, content, this.config.files.maxBytes);
    const session = { id, containerId: requireRunning(owned), projectId: owned.projectId };
    const applied = await this.applyChange(
      session,
      { writes: [write], deletes: [] },
      { ...options, groupable: true },
    );
    return { path: write.path, size: write.content.length, version: applied.version, ...applied.verdict };
  }

  /**
   * The one way a change (writes and deletes, already validated) reaches a running workspace: a
   * single PUT, an edit batch, a delete, a move. A change whose writes would take the workspace
   * over its storage limit is refused whole (413) before anything is written (deletes are not
   * counted as room: the limit is checked on the figures the runtime measures). The change reaches the workspace (and any other
   * session of the project) and becomes one version in one step under the project's lock; the
   * answer comes once both are durable. When it fails part-way, the workspace's changed paths are
   * put back as the project has them (`created`: written paths that were new, removed again).
   * The compile verdict follows behind the answer, or before it with `verify`.
   */
  async applyChange(
    session: RunningWorkspace,
    change: FileChange,
    options: { verify: boolean; groupable?: boolean; created?: Set<string> },
  ): Promise<{ version: WrittenVersionDto | null; verdict?: Verdict }> {
    const bytes = change.writes.reduce((sum, write) => sum + write.content.length, 0);
    if (bytes > 0)
      await this.forgetIfGone(session.id, this.storage.reserve(session.id, session.containerId, bytes));
    await this.keepWritesApart(session.id, change);
    const ticket = this.verdicts.expect(session.id, session.containerId, change);
    let version: WrittenVersionDto | null;
    try {
      version = await this.verdicts.exclusive(session.id, () => this.commit(session, change, options));
    } catch (error) {
      this.verdicts.discard(ticket);
      throw error;
    }
    const verdict = this.verdicts.judge(ticket, change);
    return { version, verdict: options.verify ? await verdict : undefined };
  }

  /**
   * A running session of the caller, with its workspace: what file calls work on. Throws 404 for
   * another user's or an unknown session, 409 when it is not running.
   */
  async runningWorkspace(userId: string, id: string): Promise<RunningWorkspace> {
    const session = await this.workspaceOf(userId, id);
    return { id, containerId: requireRunning(session), projectId: session.projectId };
  }

  /** Reads a running workspace's files and folders, forgetting a workspace that is gone. */
  tree(session: RunningWorkspace): Promise<FileTreeEntry[]> {
    return this.forgetIfGone(session.id, this.runtime.listFiles(session.containerId));
  }

  /** Reads a file of a running workspace (for a move), refusing one larger than a write may be. */
  async readBytes(session: RunningWorkspace, path: string): Promise<Buffer> {
    const content = await this.forgetIfGone(session.id, this.runtime.readFile(session.containerId, path));
    if (content.length > this.config.files.maxBytes) {
      throw new InvalidFileError(
        `${path} is ${content.length} bytes; files over ${this.config.files.maxBytes} bytes (MAX_FILE_BYTES) cannot be moved through the API`,
      );
    }
    return content;
  }

  /** Applies a change, as part of a version of the session's project when there is one. */
  private async commit(
    session: RunningWorkspace,
    change: FileChange,
    options: { groupable?: boolean; created?: Set<string> },
  ): Promise<WrittenVersionDto | null> {
    if (!session.projectId || !this.config.versions.enabled) {
      await this.forgetIfGone(session.id, this.runtime.applyChanges(session.containerId, change));
      return null;
    }
    try {
      const result = await this.forgetIfGone(
        session.id,
        this.versions.commit({
          projectId: session.projectId,
          kind: 'edit',
          authorSessionId: session.id,
          origin: { sessionId: session.id, workspaceId: session.containerId },
          applyToOrigin: true,
          groupable: options.groupable ?? false,
          changes: change,
        }),
      );
      return { id: result.version.id, number: result.version.number };
    } catch (error) {
      if (error instanceof ProjectNotFoundError) {
        throw new WorkspaceConflictError(
          `the project of session ${session.id} was deleted; its files can no longer be saved`,
        );
      }
      await this.revert(session, change, options.created);
      throw error;
    }
  }

  /** Waits until every file the change writes was last written at least WRITE_GAP_MS ago. */
  private async keepWritesApart(sessionId: string, change: FileChange): Promise<void> {
    let written = this.lastWrites.get(sessionId);
    if (!written) {
      if (this.lastWrites.size >= 10_000) this.lastWrites.clear();
      written = new Map();
      this.lastWrites.set(sessionId, written);
    }
    // The slot is taken before the wait, so concurrent writes of one file queue up behind it.
    const now = performance.now();
    const last = Math.max(-Infinity, ...change.writes.map((write) => written.get(write.path) ?? -Infinity));
    const at = Math.max(now, last + WRITE_GAP_MS);
    for (const write of change.writes) written.set(write.path, at);
    if (at > now) await sleep(at - now);
    // Entries older than the gap never matter again.
    if (written.size > 1_000)
      for (const [path, time] of written) if (at - time > WRITE_GAP_MS) written.delete(path);
  }

  /** Best effort: the workspace's copy of a failed change's paths, back to the project's. */
  private async revert(session: RunningWorkspace, change: FileChange, created?: Set<string>): Promise<void> {
    if (!session.projectId) return;
    const paths = [...change.writes.map((write) => write.path), ...change.deletes];
    try {
      await this.sync.revert(session.projectId, session.containerId, paths, created ?? new Set());
    } catch (error) {
      this.log.warn(
        { err: error, sessionId: session.id, paths },
        'a failed change could not be undone in the workspace; its files differ from the project until the next change or restore',
      );
    }
  }

  /**
   * The caller's session, as far as file calls need it. Every edit's HMR latency includes this, so
   * a running session is answered from memory for {@link RUNNING_CACHE_MS}: its owner never changes,
   * and any status change in this process forgets it at once (one elsewhere shows as a missing
   * workspace, which forgets it too). Another user's call is never answered from the cache.
   * Activity is recorded behind the answer.
   */
  private async workspaceOf(
    userId: string,
    id: string,
  ): Promise<Pick<WorkspaceSessionEntity, 'status' | 'containerId' | 'projectId'>> {
    const cached = this.running.get(id);
    if (cached && cached.userId === userId && cached.until > Date.now()) {
      this.sessions.recordActivity(id);
      return {
        status: WorkspaceStatus.Running,
        containerId: cached.containerId,
        projectId: cached.projectId,
      };
    }
    const session = await this.sessions.findOwned(userId, id);
    this.sessions.recordActivity(id);
    if (session.status === WorkspaceStatus.Running && session.containerId) {
      if (this.running.size >= 10_000) this.running.clear();
      this.running.set(id, {
        userId,
        containerId: session.containerId,
        projectId: session.projectId,
        until: Date.now() + RUNNING_CACHE_MS,
      });
    }
    return session;
  }

  private async forgetIfGone<T>(id: string, operation: Promise<T>): Promise<T> {
    try {
      return await operation;
    } catch (error) {
      if (error instanceof WorkspaceNotFoundError) this.running.delete(id);
      throw error;
    }
  }
}

/** A session whose dev server runs: its id, its workspace and its project. */
export interface RunningWorkspace {
  id: string;
  containerId: string;
  projectId: string | null;
}

/** Files are served only while the dev server runs; answers the session's workspace id. */
export function requireRunning(session: Pick<WorkspaceSessionEntity, 'status' | 'containerId'>): string {
  if (session.status !== WorkspaceStatus.Running || !session.containerId) {
    throw new WorkspaceConflictError(
      `workspace is ${session.status}; its files are available while it is running`,
    );
  }
  return session.containerId;
}

import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { WorkspaceStatus } from '@builder/shared';
import { AppConfig } from '../../config/app-config';
import { InvalidFileError } from '../../shared/errors/invalid-file.error';
import { ProjectNotFoundError } from '../../shared/errors/project-not-found.error';
import { WorkspaceConflictError } from '../../shared/errors/workspace-conflict.error';
import { WorkspaceNotFoundError } from '../../shared/runtime/runtime.errors';
import { WORKSPACE_RUNTIME, type WorkspaceRuntime } from '../../shared/runtime/workspace-runtime.interface';
import type { FileContentDto, FileTreeDto, WriteFileResultDto } from './dto/workspace-file.dto';
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

  constructor(
    private readonly config: AppConfig,
    private readonly sessions: WorkspaceSessionRepository,
    private readonly versions: ProjectVersionsService,
    @Inject(WORKSPACE_RUNTIME) private readonly runtime: WorkspaceRuntime,
    private readonly storage: WorkspaceStorageService,
    events: WorkspaceEventsService,
  ) {
    this.offStatus = events.on('status', (event) => this.running.delete(event.sessionId));
  }

  onModuleDestroy(): void {
    this.offStatus();
  }

  async list(userId: string, id: string): Promise<FileTreeDto> {
    const containerId = requireRunning(await this.workspaceOf(userId, id));
    return { entries: await this.forgetIfGone(id, this.runtime.listFiles(containerId)) };
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

  async write(userId: string, id: string, rawPath: unknown, content: unknown): Promise<WriteFileResultDto> {
    const session = await this.workspaceOf(userId, id);
    const path = parseWorkspacePath(rawPath, { forWrite: true });
    if (typeof content !== 'string') throw new InvalidFileError('content must be a string');
    const bytes = Buffer.from(content, 'utf8');
    if (bytes.length > this.config.files.maxBytes) {
      throw new InvalidFileError(
        `content is ${bytes.length} bytes; the limit is ${this.config.files.maxBytes} bytes (MAX_FILE_BYTES)`,
      );
    }
    const containerId = requireRunning(session);
    // Before anything is written: a write over the storage limit is refused whole (413).
    await this.forgetIfGone(id, this.storage.reserve(id, containerId, bytes.length));
    if (!session.projectId || !this.config.versions.enabled) {
      await this.forgetIfGone(id, this.runtime.writeFile(containerId, path, bytes));
      return { path, size: bytes.length, version: null };
    }
    // The write reaches the workspace (and any other session of the project) and becomes part of
    // a version in one step under the project's lock; the answer comes once both are durable.
    try {
      const result = await this.forgetIfGone(
        id,
        this.versions.commit({
          projectId: session.projectId,
          kind: 'edit',
          authorSessionId: id,
          origin: { sessionId: id, workspaceId: containerId },
          applyToOrigin: true,
          groupable: true,
          changes: { writes: [{ path, content: bytes }], deletes: [] },
        }),
      );
      return { path, size: bytes.length, version: { id: result.version.id, number: result.version.number } };
    } catch (error) {
      if (error instanceof ProjectNotFoundError) {
        throw new WorkspaceConflictError(
          `the project of session ${id} was deleted; its files can no longer be saved`,
        );
      }
      throw error;
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

/** Files are served only while the dev server runs; answers the session's workspace id. */
function requireRunning(session: Pick<WorkspaceSessionEntity, 'status' | 'containerId'>): string {
  if (session.status !== WorkspaceStatus.Running || !session.containerId) {
    throw new WorkspaceConflictError(
      `workspace is ${session.status}; its files are available while it is running`,
    );
  }
  return session.containerId;
}

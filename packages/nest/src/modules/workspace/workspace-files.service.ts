import { Inject, Injectable } from '@nestjs/common';
import { WorkspaceStatus } from '@builder/shared';
import { AppConfig } from '../../config/app-config';
import { InvalidFileError } from '../../shared/errors/invalid-file.error';
import { WorkspaceConflictError } from '../../shared/errors/workspace-conflict.error';
import { WORKSPACE_RUNTIME, type WorkspaceRuntime } from '../../shared/runtime/workspace-runtime.interface';
import type { FileContentDto, FileTreeDto, WriteFileResultDto } from './dto/workspace-file.dto';
import type { WorkspaceSessionEntity } from './entities/session.entity';
import { parseWorkspacePath } from './workspace-file-path';
import { WorkspaceSessionRepository } from './workspace-session.repository';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Files of a running session, as UTF-8 text. Paths are validated here (refused, never
 * normalized) and confined again by the runtime, which also sees symlinks.
 */
@Injectable()
export class WorkspaceFilesService {
  constructor(
    private readonly config: AppConfig,
    private readonly sessions: WorkspaceSessionRepository,
    @Inject(WORKSPACE_RUNTIME) private readonly runtime: WorkspaceRuntime,
  ) {}

  async list(userId: string, id: string): Promise<FileTreeDto> {
    const containerId = requireRunning(await this.ownedSession(userId, id));
    return { entries: await this.runtime.listFiles(containerId) };
  }

  async read(userId: string, id: string, rawPath: unknown): Promise<FileContentDto> {
    const session = await this.ownedSession(userId, id);
    const path = parseWorkspacePath(rawPath, { forWrite: false });
    const content = await this.runtime.readFile(requireRunning(session), path);
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
    const session = await this.ownedSession(userId, id);
    const path = parseWorkspacePath(rawPath, { forWrite: true });
    if (typeof content !== 'string') throw new InvalidFileError('content must be a string');
    const bytes = Buffer.from(content, 'utf8');
    if (bytes.length > this.config.files.maxBytes) {
      throw new InvalidFileError(
        `content is ${bytes.length} bytes; the limit is ${this.config.files.maxBytes} bytes (MAX_FILE_BYTES)`,
      );
    }
    await this.runtime.writeFile(requireRunning(session), path, bytes);
    return { path, size: bytes.length };
  }

  /** One read on the edit path (it is part of every edit's HMR latency); activity is written behind. */
  private async ownedSession(userId: string, id: string): Promise<WorkspaceSessionEntity> {
    const session = await this.sessions.findOwned(userId, id);
    this.sessions.recordActivity(id);
    return session;
  }
}

/** Files are served only while the dev server runs; answers the session's workspace id. */
function requireRunning(session: WorkspaceSessionEntity): string {
  if (session.status !== WorkspaceStatus.Running || !session.containerId) {
    throw new WorkspaceConflictError(`workspace is ${session.status}; its files are available while it is running`);
  }
  return session.containerId;
}

import { Injectable } from '@nestjs/common';
import type { DeleteFileResponse, EditBatchResponse, MoveFileResponse } from '@builder/shared';
import { AppConfig } from '../../config/app-config';
import { InvalidFileError } from '../../shared/errors/invalid-file.error';
import { WorkspaceConflictError } from '../../shared/errors/workspace-conflict.error';
import { checkAgainstTree, parseDeletePath, parseEditBatch } from './edit-batch.validation';
import { WorkspaceFilesService } from './workspace-files.service';

/**
 * Changes of several files, or of a file's existence, through the files API: an edit batch, a
 * delete, a move. Each is validated whole, then checked against the workspace's files (a missing
 * file, a write onto a folder) before anything is applied, and applied through
 * {@link WorkspaceFilesService.applyChange} as one change: one version, one reload of the preview.
 */
@Injectable()
export class WorkspaceEditsService {
  constructor(
    private readonly config: AppConfig,
    private readonly files: WorkspaceFilesService,
  ) {}

  async edit(
    userId: string,
    id: string,
    request: { writes?: unknown; deletes?: unknown; verify?: boolean },
  ): Promise<EditBatchResponse> {
    const change = parseEditBatch(request, {
      maxBytes: this.config.files.maxBytes,
      maxEntries: this.config.files.maxEditEntries,
    });
    const session = await this.files.runningWorkspace(userId, id);
    // One write alone needs no look at the tree: it is as whole as a PUT.
    const alone = change.writes.length === 1 && change.deletes.length === 0;
    const created = alone ? undefined : checkAgainstTree(await this.files.tree(session), change);
    const applied = await this.files.applyChange(session, change, {
      verify: request.verify === true,
      created,
    });
    return {
      written: change.writes.map((write) => ({ path: write.path, size: write.content.length })),
      deleted: change.deletes,
      version: applied.version,
      ...applied.verdict,
    };
  }

  async delete(userId: string, id: string, rawPath: unknown, verify: boolean): Promise<DeleteFileResponse> {
    const path = parseDeletePath(rawPath);
    const session = await this.files.runningWorkspace(userId, id);
    const change = { writes: [], deletes: [path] };
    checkAgainstTree(await this.files.tree(session), change);
    const applied = await this.files.applyChange(session, change, { verify });
    return { path, version: applied.version, ...applied.verdict };
  }

  /** Renames or moves a file: its content written at `to` and `from` deleted, as one change. */
  async move(
    userId: string,
    id: string,
    request: { from: unknown; to: unknown; verify?: boolean },
  ): Promise<MoveFileResponse> {
    const from = parseDeletePath(request.from, 'from');
    const to = parseDeletePath(request.to, 'to');
    if (from === to) throw new InvalidFileError('from and to are the same path');
    const session = await this.files.runningWorkspace(userId, id);
    const tree = await this.files.tree(session);
    if (tree.some((entry) => entry.path === to)) {
      throw new WorkspaceConflictError(`${to} already exists; delete it first or move to another path`);
    }
    checkAgainstTree(tree, { writes: [], deletes: [from] });
    const content = await this.files.readBytes(session, from);
    const change = { writes: [{ path: to, content }], deletes: [from] };
    const created = checkAgainstTree(tree, change);
    const applied = await this.files.applyChange(session, change, {
      verify: request.verify === true,
      created,
    });
    return { from, to, size: content.length, version: applied.version, ...applied.verdict };
  }
}

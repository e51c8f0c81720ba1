import type { FileTreeEntry } from '@builder/shared';
import { InvalidFileError } from '../../shared/errors/invalid-file.error';
import { InvalidWorkspacePathError } from '../../shared/errors/invalid-workspace-path.error';
import { parseWorkspacePath } from '../../shared/paths/workspace-file-path';
import { WorkspaceFileError } from '../../shared/runtime/runtime.errors';
import { parentDirs } from '../../shared/runtime/workspace-path.util';
import type { WorkspaceFileContent } from '../../shared/runtime/workspace-runtime.interface';

/** A change of workspace files: what the files API applies as one step (and one version). */
export interface FileChange {
  writes: WorkspaceFileContent[];
  deletes: string[];
}

/**
 * A file write as the API accepts it: a valid path (see {@link parseWorkspacePath}) and UTF-8 text
 * of at most `maxBytes` once encoded. `label` names the entry in messages (`writes[2]`).
 */
export function parseFileWrite(
  rawPath: unknown,
  content: unknown,
  maxBytes: number,
  label?: string,
): WorkspaceFileContent {
  const path = labelled(label && `${label}.path`, () => parseWorkspacePath(rawPath, { forWrite: true }));
  const prefix = label ? `${label}.content: ` : '';
  if (typeof content !== 'string') throw new InvalidFileError(`${prefix}content must be a string`);
  const bytes = Buffer.from(content, 'utf8');
  if (bytes.length > maxBytes) {
    throw new InvalidFileError(
      `${prefix}${label ? `${path} is` : 'content is'} ${bytes.length} bytes; the limit is ${maxBytes} bytes (MAX_FILE_BYTES)`,
    );
  }
  return { path, content: bytes };
}

/** A path the API may delete: the rules of a write's path (nothing under node_modules or .git). */
export function parseDeletePath(rawPath: unknown, label?: string): string {
  return labelled(label, () => parseWorkspacePath(rawPath, { forWrite: true }));
}

/**
 * A batch's writes and deletes, each checked as its single call would be, then as a whole: not
 * empty, at most `maxEntries` entries, no path twice, none both written and deleted. Throws a 400
 * naming the first bad entry; nothing is applied before this passes.
 */
export function parseEditBatch(
  raw: { writes?: unknown; deletes?: unknown },
  limits: { maxBytes: number; maxEntries: number },
): FileChange {
  const rawWrites = raw.writes ?? [];
  const rawDeletes = raw.deletes ?? [];
  if (!Array.isArray(rawWrites)) throw new InvalidFileError('writes must be an array of { path, content }');
  if (!Array.isArray(rawDeletes)) throw new InvalidFileError('deletes must be an array of paths');
  const entries = rawWrites.length + rawDeletes.length;
  if (entries === 0) throw new InvalidFileError('an edit needs at least one write or delete');
  if (entries > limits.maxEntries) {
    throw new InvalidFileError(
      `an edit holds at most ${limits.maxEntries} writes and deletes (MAX_EDIT_ENTRIES); this one has ${entries}`,
    );
  }
  const writes = rawWrites.map((entry: unknown, index) => {
    const { path, content } = (typeof entry === 'object' && entry !== null ? entry : {}) as {
      path?: unknown;
      content?: unknown;
    };
    return parseFileWrite(path, content, limits.maxBytes, `writes[${index}]`);
  });
  const deletes = rawDeletes.map((path: unknown, index) => parseDeletePath(path, `deletes[${index}]`));
  const written = new Set<string>();
  for (const write of writes) {
    if (written.has(write.path)) throw new InvalidFileError(`${write.path} is written twice in one edit`);
    written.add(write.path);
  }
  const deleted = new Set<string>();
  for (const path of deletes) {
    if (written.has(path)) throw new InvalidFileError(`${path} is both written and deleted in one edit`);
    if (deleted.has(path)) throw new InvalidFileError(`${path} is deleted twice in one edit`);
    deleted.add(path);
  }
  return { writes, deletes };
}

/**
 * Checks a change against the workspace's files before it is applied, so that it applies whole:
 * every deleted path is a file there (404 when missing), no write lands on a folder or below a
 * file. Answers the written paths that are new to the workspace.
 */
export function checkAgainstTree(tree: FileTreeEntry[], change: FileChange): Set<string> {
  const types = new Map(tree.map((entry) => [entry.path, entry.type]));
  for (const path of change.deletes) {
    const type = types.get(path);
    if (type === 'directory') throw new InvalidFileError(`${path} is a folder; only files can be deleted`);
    if (type !== 'file') throw new WorkspaceFileError(`${path} does not exist`, 'not-found');
  }
  const created = new Set<string>();
  for (const { path } of change.writes) {
    if (types.get(path) === 'directory')
      throw new InvalidFileError(`${path} is a folder; it cannot be written`);
    const file = parentDirs(path).find((dir) => types.get(dir) === 'file');
    if (file) throw new InvalidFileError(`${path} cannot be written: ${file} is a file, not a folder`);
    if (!types.has(path)) created.add(path);
  }
  return created;
}

function labelled<T>(label: string | undefined, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (label && error instanceof InvalidWorkspacePathError)
      throw new InvalidWorkspacePathError(
        `${label}: ${error.message.replace(/^invalid workspace path: /, '')}`,
      );
    throw error;
  }
}

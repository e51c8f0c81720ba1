import type { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import type { FileTreeEntry } from '@builder/shared';
import { WorkspaceFileError } from './runtime.errors';
import { isIgnoredWorkspacePath, parentDirs } from './workspace-path.util';

/** Owner of workspace files: the `node` user of the template images. */
export const WORKSPACE_UID = 1000;
export const WORKSPACE_GID = 1000;
/** Largest file `readFile` returns; bigger ones are refused instead of buffered. */
export const MAX_READ_BYTES = 10 * 1024 * 1024;

/**
 * A tar holding files and directory entries for their parents, owned by the workspace user, so one
 * putArchive at the workspace root creates missing folders and writes every file.
 */
export async function packWorkspaceFiles(
  files: Array<{ path: string; content: Buffer }>,
  mtime = new Date(),
): Promise<Buffer> {
  const pack = tar.pack();
  const owner = { uid: WORKSPACE_UID, gid: WORKSPACE_GID, uname: 'node', gname: 'node', mtime };
  const dirs = new Set<string>();
  for (const file of files) {
    for (const dir of parentDirs(file.path)) {
      if (dirs.has(dir)) continue;
      dirs.add(dir);
      pack.entry({ ...owner, name: `${dir}/`, type: 'directory', mode: 0o755 });
    }
    pack.entry(
      { ...owner, name: file.path, type: 'file', mode: 0o644, size: file.content.length },
      file.content,
    );
  }
  pack.finalize();
  return streamToBuffer(pack);
}

/** {@link packWorkspaceFiles} for one file. */
export function packWorkspaceFile(
  normalizedPath: string,
  content: Buffer,
  mtime = new Date(),
): Promise<Buffer> {
  return packWorkspaceFiles([{ path: normalizedPath, content }], mtime);
}

export interface ArchivedFile {
  type: tar.Header['type'];
  content: Buffer;
}

/**
 * Reads the first entry of a tar (what Docker's archive endpoint returns for one path). Only a
 * regular file has content; the caller decides what other types mean.
 */
export async function readFirstEntry(
  archive: Readable,
  path: string,
  maxBytes = MAX_READ_BYTES,
): Promise<ArchivedFile> {
  const extract = tar.extract();
  archive.on('error', (error: Error) => extract.destroy(error));
  archive.pipe(extract);
  try {
    for await (const entry of extract) {
      const { type, size } = entry.header;
      if (type !== 'file') {
        entry.resume();
        return { type, content: Buffer.alloc(0) };
      }
      if ((size ?? 0) > maxBytes) {
        throw new WorkspaceFileError(`${path} is larger than ${maxBytes} bytes`, 'too-large');
      }
      return { type, content: await streamToBuffer(entry) };
    }
  } finally {
    // Leaving early (one entry read, or an error) must not leave the engine's response hanging.
    archive.unpipe(extract);
    archive.destroy();
    extract.destroy();
  }
  throw new WorkspaceFileError(`${path} does not exist`, 'not-found');
}

/**
 * Lists a tar of the workspace root (first path segment = the root folder's own name) as workspace
 * entries, without {@link isIgnoredWorkspacePath} folders, sorted by path. Contents are drained, not kept.
 */
export async function listArchiveEntries(archive: Readable): Promise<FileTreeEntry[]> {
  const extract = tar.extract();
  archive.on('error', (error: Error) => extract.destroy(error));
  archive.pipe(extract);
  const entries: FileTreeEntry[] = [];
  for await (const entry of extract) {
    const { name, type, size } = entry.header;
    entry.resume();
    const relative = name.replace(/^\.?\/?[^/]*\/?/, '').replace(/\/+$/, '');
    if (relative === '' || isIgnoredWorkspacePath(relative)) continue;
    if (type === 'directory') entries.push({ path: relative, type: 'directory' });
    else if (type === 'file') entries.push({ path: relative, type: 'file', size: size ?? 0 });
    // Symlinks and special files are not the user's files: the tree shows neither.
  }
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * The regular files of a tar of the workspace root (first path segment = the root folder's own
 * name), with their contents, without {@link isIgnoredWorkspacePath} folders. Files over
 * `maxFileBytes` are left out and named in `skipped`.
 */
export async function readArchiveFiles(
  archive: Readable,
  maxFileBytes = MAX_READ_BYTES,
): Promise<{ files: Array<{ path: string; content: Buffer }>; skipped: string[] }> {
  const extract = tar.extract();
  archive.on('error', (error: Error) => extract.destroy(error));
  archive.pipe(extract);
  const files: Array<{ path: string; content: Buffer }> = [];
  const skipped: string[] = [];
  for await (const entry of extract) {
    const { name, type, size } = entry.header;
    const relative = name.replace(/^\.?\/?[^/]*\/?/, '').replace(/\/+$/, '');
    if (type !== 'file' || relative === '' || isIgnoredWorkspacePath(relative)) {
      entry.resume();
      continue;
    }
    if ((size ?? 0) > maxFileBytes) {
      skipped.push(relative);
      entry.resume();
      continue;
    }
    files.push({ path: relative, content: await streamToBuffer(entry) });
  }
  return { files: files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)), skipped };
}

export async function streamToBuffer(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array | string));
  }
  return Buffer.concat(chunks);
}

import { InvalidWorkspacePathError } from '../errors/invalid-workspace-path.error';

/** Longest accepted workspace path, in characters. */
export const MAX_WORKSPACE_PATH_LENGTH = 1024;

/** Folders the API never writes into: shared dependencies and version control. */
const WRITE_PROTECTED_SEGMENTS = new Set(['node_modules', '.git']);

/**
 * Validates a workspace-relative file path from a request and returns it in `a/b/c` form.
 * Refuses rather than normalizes: `..` and `.` segments, absolute paths, backslashes, empty
 * segments, NUL and control characters; for writes also anything under node_modules or .git.
 * The runtime checks again (symlinks pointing out are its job: it sees the file system).
 */
export function parseWorkspacePath(raw: unknown, options: { forWrite: boolean }): string {
  // Express 5 hands a `*path` wildcard over as its decoded segments.
  const path = Array.isArray(raw) ? raw.map(String).join('/') : raw;
  if (typeof path !== 'string' || path.length === 0)
    throw new InvalidWorkspacePathError('a file path is required');
  if (path.length > MAX_WORKSPACE_PATH_LENGTH) {
    throw new InvalidWorkspacePathError(`longer than ${MAX_WORKSPACE_PATH_LENGTH} characters`);
  }
  if (/[\u0000-\u001f\u007f]/.test(path)) {
    throw new InvalidWorkspacePathError('control characters are not allowed');
  }
  if (path.includes('\\')) throw new InvalidWorkspacePathError('backslashes are not allowed; use "/"');
  if (path.startsWith('/') || /^[a-zA-Z]:/.test(path)) {
    throw new InvalidWorkspacePathError(
      'absolute paths are not allowed; give a path relative to the workspace',
    );
  }
  const segments = path.split('/');
  for (const segment of segments) {
    if (segment === '..') throw new InvalidWorkspacePathError('".." segments are not allowed');
    if (segment === '.') throw new InvalidWorkspacePathError('"." segments are not allowed');
    if (segment === '')
      throw new InvalidWorkspacePathError('empty path segments ("//" or a trailing "/") are not allowed');
  }
  if (options.forWrite) {
    const protectedSegment = segments.find((segment) => WRITE_PROTECTED_SEGMENTS.has(segment));
    if (protectedSegment) {
      throw new InvalidWorkspacePathError(`files under ${protectedSegment}/ cannot be written`);
    }
  }
  return segments.join('/');
}

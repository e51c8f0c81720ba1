import { posix } from 'node:path';
import { WorkspaceFileError } from './runtime.errors';

/** Folders that are tooling output or shared dependencies, never the user's files. */
export const IGNORED_WORKSPACE_DIRS: ReadonlySet<string> = new Set([
  'node_modules',
  '.astro',
  '.vite',
  '.git',
]);

/**
 * Normalizes a workspace-relative path to `a/b/c` form. Callers validate paths already; this is the
 * runtime's own last line, so that no driver ever builds a path outside the workspace from input.
 */
export function normalizeWorkspacePath(path: string): string {
  if (typeof path !== 'string' || path.length === 0) {
    throw new WorkspaceFileError('a workspace path must not be empty', 'not-found');
  }
  if (path.includes('\0'))
    throw new WorkspaceFileError(`invalid workspace path ${JSON.stringify(path)}`, 'outside');
  const unified = path.replace(/\\/g, '/');
  if (unified.startsWith('/')) {
    throw new WorkspaceFileError(`workspace path ${JSON.stringify(path)} must be relative`, 'outside');
  }
  const normalized = posix.normalize(unified).replace(/\/+$/, '');
  if (normalized === '..' || normalized.startsWith('../')) {
    throw new WorkspaceFileError(`workspace path ${JSON.stringify(path)} leaves the workspace`, 'outside');
  }
  if (normalized === '.' || normalized === '') {
    throw new WorkspaceFileError(
      `workspace path ${JSON.stringify(path)} names the workspace root`,
      'not-a-file',
    );
  }
  return normalized;
}

/** Whether a workspace-relative path lies in (or is) one of {@link IGNORED_WORKSPACE_DIRS}. */
export function isIgnoredWorkspacePath(relativePath: string): boolean {
  return relativePath.split('/').some((segment) => IGNORED_WORKSPACE_DIRS.has(segment));
}

/** The parent folders of a normalized path, outermost first: `a/b/c` → `['a', 'a/b']`. */
export function parentDirs(normalizedPath: string): string[] {
  const segments = normalizedPath.split('/');
  return segments.slice(0, -1).map((_, index) => segments.slice(0, index + 1).join('/'));
}

/** Whether `candidate` is `root` or inside it (both absolute and already resolved). */
export function isInside(root: string, candidate: string): boolean {
  const relative = posix.relative(root, candidate);
  return relative === '' || (!relative.startsWith('../') && relative !== '..' && !posix.isAbsolute(relative));
}

const SESSION_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Session ids name volumes and folders: refuse anything that is not a plain name. */
export function assertSessionId(sessionId: string): string {
  if (typeof sessionId !== 'string' || !SESSION_ID_PATTERN.test(sessionId) || sessionId.includes('..')) {
    throw new Error(`invalid session id ${JSON.stringify(sessionId)}`);
  }
  return sessionId;
}

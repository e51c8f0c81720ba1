import {
  API_PREFIX,
  type CreateWorkspaceRequest,
  type DeleteFileResponse,
  type EditBatchRequest,
  type EditBatchResponse,
  type FileContentResponse,
  type FileTreeResponse,
  type MoveFileRequest,
  type MoveFileResponse,
  type Verdict,
  type WorkspaceLogsResponse,
  type WorkspaceSession,
  type WriteFileResponse,
} from '@builder/shared';
import { defaultHttpClient } from '@/lib/api/default-client';
import type { CallOptions, HttpClient } from '@/lib/api/http-client';

export { ApiError, isAbortError } from '@/lib/api/api-error';
export type { CallOptions } from '@/lib/api/http-client';

export interface DeleteWorkspaceOptions extends CallOptions {
  /** Let the request finish after the page is gone (tab closing). */
  keepalive?: boolean;
}

export interface ChangeOptions extends CallOptions {
  /**
   * Answer only after the dev server compiled what the change affects, with its verdict (`ok`,
   * `errors`). Without it the verdict arrives on the socket (`ok` or `error` events).
   */
  verify?: boolean;
}

/** The workspace routes of the API. */
export interface WorkspaceApi {
  createWorkspace(request?: CreateWorkspaceRequest, options?: CallOptions): Promise<WorkspaceSession>;
  getWorkspaceStatus(sessionId: string, options?: CallOptions): Promise<WorkspaceSession>;
  listWorkspaces(options?: CallOptions): Promise<WorkspaceSession[]>;
  deleteWorkspace(sessionId: string, options?: DeleteWorkspaceOptions): Promise<void>;
  /** Not served by every backend version: a 404 means "use delete + create". */
  restartWorkspace(sessionId: string, options?: CallOptions): Promise<WorkspaceSession>;
  getFileTree(sessionId: string, options?: CallOptions): Promise<FileTreeResponse>;
  readFile(sessionId: string, path: string, options?: CallOptions): Promise<FileContentResponse>;
  writeFile(
    sessionId: string,
    path: string,
    content: string,
    options?: ChangeOptions,
  ): Promise<WriteFileResponse & Partial<Verdict>>;
  /** Several writes and deletes as one change: one version, one reload; all or none. */
  applyEdits(sessionId: string, edit: EditBatchRequest, options?: CallOptions): Promise<EditBatchResponse>;
  deleteFile(sessionId: string, path: string, options?: ChangeOptions): Promise<DeleteFileResponse>;
  /** Renames or moves a file; the target must not exist (409). */
  moveFile(sessionId: string, move: MoveFileRequest, options?: CallOptions): Promise<MoveFileResponse>;
  /** The dev server's last `tail` output lines (default 100), oldest first. */
  getLogs(sessionId: string, tail?: number, options?: CallOptions): Promise<WorkspaceLogsResponse>;
}

// Creation may wait on an image pull or a start slot before the server answers.
const CREATE_TIMEOUT_MS = 90_000;

const WORKSPACE = `${API_PREFIX}/workspace`;

export function createWorkspaceApi(http: HttpClient): WorkspaceApi {
  const session = (id: string): string => `${WORKSPACE}/${encodeURIComponent(id)}`;
  return {
    createWorkspace: (request = {}, options) =>
      http.request(`${WORKSPACE}/create`, {
        timeoutMs: CREATE_TIMEOUT_MS,
        ...options,
        method: 'POST',
        body: request,
      }),
    getWorkspaceStatus: (id, options) => http.request(`${session(id)}/status`, options),
    listWorkspaces: (options) => http.request(WORKSPACE, options),
    deleteWorkspace: async (id, options = {}) => {
      // A keepalive request outlives the page, so nothing would be left to run a retry.
      const retries = options.keepalive ? 0 : options.retries;
      await http.request<unknown>(session(id), { ...options, retries, method: 'DELETE' });
    },
    restartWorkspace: (id, options) =>
      http.request(`${session(id)}/restart`, { timeoutMs: CREATE_TIMEOUT_MS, ...options, method: 'POST' }),
    getFileTree: (id, options) => http.request(`${session(id)}/files`, options),
    readFile: (id, path, options) => http.request(`${session(id)}/files/${encodePath(path)}`, options),
    writeFile: (id, path, content, { verify, ...options } = {}) =>
      http.request(`${session(id)}/files/${encodePath(path)}${verify ? '?verify=true' : ''}`, {
        ...options,
        method: 'PUT',
        body: { content },
      }),
    applyEdits: (id, edit, options) =>
      http.request(`${session(id)}/edits`, { ...options, method: 'POST', body: edit }),
    deleteFile: (id, path, { verify, ...options } = {}) =>
      http.request(`${session(id)}/files/${encodePath(path)}${verify ? '?verify=true' : ''}`, {
        ...options,
        method: 'DELETE',
      }),
    moveFile: (id, move, options) =>
      http.request(`${session(id)}/files/move`, { ...options, method: 'POST', body: move }),
    getLogs: (id, tail, options) =>
      http.request(`${session(id)}/logs${tail === undefined ? '' : `?tail=${tail}`}`, options),
  };
}

/** Encodes each segment, keeping the `/` separators the route expects. */
export function encodePath(path: string): string {
  return path
    .replace(/^\/+/, '')
    .split('/')
    .map((segment) => encodeURIComponent(segment))
    .join('/');
}

let defaultApi: WorkspaceApi | null = null;

/** The tab's workspace API, authenticated with the stored token. */
export function workspaceApi(): WorkspaceApi {
  defaultApi ??= createWorkspaceApi(defaultHttpClient());
  return defaultApi;
}

export const createWorkspace = (
  request?: CreateWorkspaceRequest,
  options?: CallOptions,
): Promise<WorkspaceSession> => workspaceApi().createWorkspace(request, options);

export const getWorkspaceStatus = (sessionId: string, options?: CallOptions): Promise<WorkspaceSession> =>
  workspaceApi().getWorkspaceStatus(sessionId, options);

export const listWorkspaces = (options?: CallOptions): Promise<WorkspaceSession[]> =>
  workspaceApi().listWorkspaces(options);

export const deleteWorkspace = (sessionId: string, options?: DeleteWorkspaceOptions): Promise<void> =>
  workspaceApi().deleteWorkspace(sessionId, options);

export const restartWorkspace = (sessionId: string, options?: CallOptions): Promise<WorkspaceSession> =>
  workspaceApi().restartWorkspace(sessionId, options);

export const getFileTree = (sessionId: string, options?: CallOptions): Promise<FileTreeResponse> =>
  workspaceApi().getFileTree(sessionId, options);

export const readFile = (
  sessionId: string,
  path: string,
  options?: CallOptions,
): Promise<FileContentResponse> => workspaceApi().readFile(sessionId, path, options);

export const writeFile = (
  sessionId: string,
  path: string,
  content: string,
  options?: ChangeOptions,
): Promise<WriteFileResponse & Partial<Verdict>> =>
  workspaceApi().writeFile(sessionId, path, content, options);

export const applyEdits = (
  sessionId: string,
  edit: EditBatchRequest,
  options?: CallOptions,
): Promise<EditBatchResponse> => workspaceApi().applyEdits(sessionId, edit, options);

export const deleteFile = (
  sessionId: string,
  path: string,
  options?: ChangeOptions,
): Promise<DeleteFileResponse> => workspaceApi().deleteFile(sessionId, path, options);

export const moveFile = (
  sessionId: string,
  move: MoveFileRequest,
  options?: CallOptions,
): Promise<MoveFileResponse> => workspaceApi().moveFile(sessionId, move, options);

export const getLogs = (
  sessionId: string,
  tail?: number,
  options?: CallOptions,
): Promise<WorkspaceLogsResponse> => workspaceApi().getLogs(sessionId, tail, options);

import type { BuildStep, Verdict } from './hmr.types';

/** Lifecycle status of a workspace session, as stored and as reported by the API. */
export const WorkspaceStatus = {
  Creating: 'creating',
  Running: 'running',
  Stopping: 'stopping',
  Stopped: 'stopped',
  Error: 'error',
} as const;
export type WorkspaceStatus = (typeof WorkspaceStatus)[keyof typeof WorkspaceStatus];

export const WORKSPACE_STATUSES: readonly WorkspaceStatus[] = Object.values(WorkspaceStatus);

/** Statuses that hold a container and a port. */
export const ACTIVE_WORKSPACE_STATUSES: readonly WorkspaceStatus[] = [
  WorkspaceStatus.Creating,
  WorkspaceStatus.Running,
  WorkspaceStatus.Stopping,
];

export const API_PREFIX = '/api/v1';
export const DEFAULT_TEMPLATE_NAME = 'baseline-landing';

/** Limits a workspace runs under. */
export interface ResourceAllocation {
  /** Memory limit in bytes (the plan: 512 MiB). */
  memoryBytes: number;
  /** Relative CPU weight (the plan: 512). */
  cpuShares: number;
  /** Hard CPU quota in cores applied once the dev server is ready (the plan: 0.5). */
  cpuCores: number;
  /** Maximum number of processes in the workspace. */
  pidsLimit: number;
  /** Largest total size of the workspace files, in bytes (the plan: 1 GiB). */
  storageBytes: number;
}

/** Development settings the dev server of a workspace runs with. */
export interface PreviewEnvironment {
  nodeEnv: 'development';
  containerPort: number;
  hmr: boolean;
}

/** A preview session as the API returns it. */
export interface WorkspaceSession {
  id: string;
  status: WorkspaceStatus;
  /** URL the browser loads in the preview iframe; null until a port or host is assigned. */
  previewUrl: string | null;
  /** Host port of the dev server (8000-8100), null when none is held. */
  port: number | null;
  templateName: string;
  createdAt: string;
  expiresAt: string;
  lastActivityAt: string;
  resourceAllocation: ResourceAllocation;
  /** Why the session is in `error`, otherwise null. */
  errorMessage: string | null;
  /** Latest start-up step, so a page that loads late still shows where the start is. */
  buildStep: BuildStep | null;
  /** Place in the start queue while waiting for a start slot, otherwise null. */
  queuePosition: number | null;
  /** The project the session previews. */
  projectId: string | null;
}

export interface CreateWorkspaceRequest {
  templateName?: string;
  /** Preview this existing project; without it a new project is made from the template. */
  projectId?: string;
}

export type CreateWorkspaceResponse = WorkspaceSession;
export type WorkspaceStatusResponse = WorkspaceSession;
export type WorkspaceListResponse = WorkspaceSession[];

export type FileEntryType = 'file' | 'directory';

export interface FileTreeEntry {
  /** Path relative to the workspace root, with `/` separators. */
  path: string;
  type: FileEntryType;
  /** Size in bytes (files only). */
  size?: number;
}

export interface FileTreeResponse {
  entries: FileTreeEntry[];
}

export interface FileContentResponse {
  path: string;
  content: string;
}

export interface WriteFileRequest {
  content: string;
}

export interface WriteFileResponse {
  path: string;
  size: number;
  /** The project version holding the write, durable once this answer is sent (null: not versioned). */
  version: { id: string; number: number } | null;
}

/** `PUT .../files/<path>?verify=true`: the write's answer once the dev server compiled what it affects. */
export type VerifiedWriteFileResponse = WriteFileResponse & Verdict;

/** `POST /workspace/:id/edits`: several writes and deletes applied as one change (all or none). */
export interface EditBatchRequest {
  writes?: Array<{ path: string; content: string }>;
  deletes?: string[];
  /** Answer only after the dev server compiled what the change affects, with its verdict. */
  verify?: boolean;
}

export interface EditBatchResponse extends Partial<Verdict> {
  written: Array<{ path: string; size: number }>;
  deleted: string[];
  /** The one project version holding the whole change (null: not versioned). */
  version: { id: string; number: number } | null;
}

/** `DELETE .../files/<path>`. */
export interface DeleteFileResponse extends Partial<Verdict> {
  path: string;
  version: { id: string; number: number } | null;
}

/** `POST /workspace/:id/files/move`: renames or moves a file; the target must not exist. */
export interface MoveFileRequest {
  from: string;
  to: string;
  verify?: boolean;
}

export interface MoveFileResponse extends Partial<Verdict> {
  from: string;
  to: string;
  size: number;
  version: { id: string; number: number } | null;
}

/** `GET /workspace/:id/logs?tail=N`: the dev server's recent output, oldest first. */
export interface WorkspaceLogsResponse {
  lines: string[];
}

/** The one JSON shape of every error the API returns. */
export interface ApiErrorResponse {
  statusCode: number;
  error: string;
  message: string;
  path: string;
  timestamp: string;
}

export interface AuthCredentials {
  email: string;
  password: string;
}

export interface AuthTokenResponse {
  accessToken: string;
}

export interface UserProfile {
  id: string;
  email: string;
  createdAt: string;
}

/** How a version came to be. */
export const VERSION_KINDS = ['template', 'edit', 'snapshot', 'restore'] as const;
/**
 * - `template`: the project's first version, the template it started from;
 * - `edit`: file writes (and deletes) through the files API;
 * - `snapshot`: changes made inside the workspace by anything else, captured when its session stopped;
 * - `restore`: a copy of an earlier version (history is never rewritten).
 */
export type VersionKind = (typeof VERSION_KINDS)[number];

/** One saved state of a project's files. */
export interface ProjectVersion {
  id: string;
  /** 1, 2, 3… within the project. */
  number: number;
  kind: VersionKind;
  createdAt: string;
  /** Last change of this version: writes of one file in quick succession are grouped into one version. */
  updatedAt: string;
  /** The session whose edit made it (null for the template version and restores made outside a session). */
  authorSessionId: string | null;
  /** For `restore`: the version it copies. */
  restoredFromVersionId: string | null;
  /** Paths added, changed or removed against the previous version. */
  changedPaths: string[];
  filesChanged: number;
  fileCount: number;
  /** Total size of the version's files, in bytes. */
  totalSize: number;
}

/** A user's project: the files a workspace session previews, kept as versions. */
export interface Project {
  id: string;
  name: string;
  templateName: string;
  createdAt: string;
  updatedAt: string;
  /** The current version (what a new session of the project shows). */
  currentVersion: ProjectVersion | null;
}

/** A file of a version: its path, size and content hash (sha256, hex). */
export interface VersionFileEntry {
  path: string;
  size: number;
  sha256: string;
}

export interface VersionFilesResponse {
  versionId: string;
  number: number;
  files: VersionFileEntry[];
}

/** A file as it was in a version: UTF-8 text, or base64 for anything that is not text. */
export interface VersionFileContent {
  path: string;
  size: number;
  sha256: string;
  encoding: 'utf8' | 'base64';
  content: string;
}

export interface CreateProjectRequest {
  name?: string;
}

export interface UpdateProjectRequest {
  name: string;
}

export interface RestoreVersionResponse {
  /** The new version, equal in content to the restored one. */
  version: ProjectVersion;
  /** Running sessions of the project whose files were replaced. */
  sessionsUpdated: string[];
}

/** Archive formats of `GET /projects/:id/export`. */
export const EXPORT_FORMATS = ['zip', 'tar.gz'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

import {
  API_PREFIX,
  type CreateProjectRequest,
  type ExportFormat,
  type Project,
  type ProjectVersion,
  type RestoreVersionResponse,
  type VersionFileContent,
  type VersionFilesResponse,
} from '@builder/shared';
import { defaultHttpClient } from '@/lib/api/default-client';
import type { CallOptions, DownloadedFile, HttpClient } from '@/lib/api/http-client';
import { encodePath } from '@/lib/workspace/workspace.api';

export { ApiError, isAbortError } from '@/lib/api/api-error';
export type { CallOptions, DownloadedFile } from '@/lib/api/http-client';

export interface ListVersionsOptions extends CallOptions {
  /** At most this many (the API's default is 50, its maximum 200). */
  limit?: number;
  /** Only versions numbered below this one: the next page. */
  before?: number;
}

/** The project routes of the API: projects, their versions, restore and export. */
export interface ProjectsApi {
  /** The user's projects, most recently changed first. */
  listProjects(options?: CallOptions): Promise<Project[]>;
  createProject(request?: CreateProjectRequest, options?: CallOptions): Promise<Project>;
  getProject(projectId: string, options?: CallOptions): Promise<Project>;
  renameProject(projectId: string, name: string, options?: CallOptions): Promise<Project>;
  /** Ends the project's sessions and removes it with all its versions. */
  deleteProject(projectId: string, options?: CallOptions): Promise<void>;
  /** Newest first. */
  listVersions(projectId: string, options?: ListVersionsOptions): Promise<ProjectVersion[]>;
  getVersionFiles(projectId: string, versionId: string, options?: CallOptions): Promise<VersionFilesResponse>;
  /** A file as it was in a version. */
  readVersionFile(
    projectId: string,
    versionId: string,
    path: string,
    options?: CallOptions,
  ): Promise<VersionFileContent>;
  /** Makes a new version equal to `versionId`; a running session of the project shows it. */
  restoreVersion(
    projectId: string,
    versionId: string,
    options?: CallOptions,
  ): Promise<RestoreVersionResponse>;
  /** The current version as an archive. */
  exportProject(projectId: string, format?: ExportFormat, options?: CallOptions): Promise<DownloadedFile>;
}

// An archive is streamed blob by blob from the object store: more than a JSON answer's time.
const EXPORT_TIMEOUT_MS = 120_000;

const PROJECTS = `${API_PREFIX}/projects`;

export function createProjectsApi(http: HttpClient): ProjectsApi {
  const project = (id: string): string => `${PROJECTS}/${encodeURIComponent(id)}`;
  const version = (id: string, versionId: string): string =>
    `${project(id)}/versions/${encodeURIComponent(versionId)}`;
  return {
    listProjects: (options) => http.request(PROJECTS, options),
    // Not retried by default: a repeat after a lost answer would make a second project.
    createProject: (request = {}, options) =>
      http.request(PROJECTS, { retries: 0, ...options, method: 'POST', body: request }),
    getProject: (id, options) => http.request(project(id), options),
    renameProject: (id, name, options) =>
      http.request(project(id), { ...options, method: 'PATCH', body: { name } }),
    deleteProject: async (id, options) => {
      await http.request<unknown>(project(id), { ...options, method: 'DELETE' });
    },
    listVersions: (id, { limit, before, ...options } = {}) =>
      http.request(`${project(id)}/versions${query({ limit, before })}`, options),
    getVersionFiles: (id, versionId, options) => http.request(`${version(id, versionId)}/files`, options),
    readVersionFile: (id, versionId, path, options) =>
      http.request(`${version(id, versionId)}/files/${encodePath(path)}`, options),
    // Not retried by default: a repeat after a lost answer would add a second, equal version.
    restoreVersion: (id, versionId, options) =>
      http.request(`${version(id, versionId)}/restore`, { retries: 0, ...options, method: 'POST' }),
    exportProject: (id, format = 'zip', options) =>
      http.download(`${project(id)}/export${query({ format })}`, {
        timeoutMs: EXPORT_TIMEOUT_MS,
        ...options,
      }),
  };
}

function query(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined) search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

let defaultApi: ProjectsApi | null = null;

/** The tab's projects API, authenticated with the stored token. */
export function projectsApi(): ProjectsApi {
  defaultApi ??= createProjectsApi(defaultHttpClient());
  return defaultApi;
}

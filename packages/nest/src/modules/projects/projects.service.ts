import type { Readable } from 'node:stream';
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import {
  DEFAULT_TEMPLATE_NAME,
  type ExportFormat,
  type Project,
  type ProjectVersion,
  type RestoreVersionResponse,
  type VersionFileContent,
  type VersionFileEntry,
  type VersionFilesResponse,
} from '@builder/shared';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import { ProjectNotFoundError } from '../../shared/errors/project-not-found.error';
import { ROOT_LOGGER } from '../../shared/logging/logging.module';
import { parseWorkspacePath } from '../../shared/paths/workspace-file-path';
import { TemplateService } from '../../shared/services/template.service';
import { BlobStore } from './blob-store.service';
import { archiveMediaType, archiveStream } from './project-archive.util';
import { ProjectVersionsService } from './project-versions.service';
import { ProjectWorkspacesRegistry } from './project-workspaces.port';

const utf8 = new TextDecoder('utf-8', { fatal: true });

interface ProjectRow {
  id: string;
  name: string;
  template_name: string;
  created_at: Date;
  updated_at: Date;
  head_version_id: string | null;
}

/** A project archive ready to stream. */
export interface ProjectExport {
  filename: string;
  contentType: string;
  stream: Readable;
}

/**
 * Projects of a user: create (from a template), list, rename, delete, their versions, restore and
 * export. Every call names the user; another user's project answers exactly like a missing one.
 */
@Injectable()
export class ProjectsService {
  private readonly log: Logger;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly versions: ProjectVersionsService,
    private readonly blobs: BlobStore,
    private readonly template: TemplateService,
    private readonly workspaces: ProjectWorkspacesRegistry,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: 'ProjectsService' });
  }

  /** A new project holding the template's files as version 1. */
  async create(
    userId: string,
    name?: string,
    templateName: string = DEFAULT_TEMPLATE_NAME,
  ): Promise<Project> {
    const files = await this.template.templateContents(templateName);
    const id = await this.versions.createProject(
      userId,
      name?.trim() || (await this.defaultName(userId)),
      templateName,
      files,
    );
    this.log.info({ userId, projectId: id, files: files.length }, 'project created');
    return this.get(userId, id);
  }

  /** The user's projects, most recently changed first. */
  async list(userId: string): Promise<Project[]> {
    const rows: ProjectRow[] = await this.db.query(
      `SELECT id, name, template_name, created_at, updated_at, head_version_id FROM projects
        WHERE user_id = $1 ORDER BY updated_at DESC, created_at DESC`,
      [userId],
    );
    const current = await this.versions.byIds(
      rows.flatMap((row) => (row.head_version_id ? [row.head_version_id] : [])),
    );
    return rows.map((row) =>
      toProject(row, (row.head_version_id && current.get(row.head_version_id)) || null),
    );
  }

  async get(userId: string, projectId: string): Promise<Project> {
    const row = await this.findOwned(userId, projectId);
    return toProject(row, await this.versions.current(projectId));
  }

  /** Answers the project if it is the user's; else {@link ProjectNotFoundError}. */
  async findOwned(userId: string, projectId: string): Promise<ProjectRow> {
    const [row]: ProjectRow[] = await this.db.query(
      `SELECT id, name, template_name, created_at, updated_at, head_version_id FROM projects WHERE id = $1 AND user_id = $2`,
      [projectId, userId],
    );
    if (!row) throw new ProjectNotFoundError(projectId);
    return row;
  }

  async rename(userId: string, projectId: string, name: string): Promise<Project> {
    const rows: unknown[] = await this.db.query(
      `WITH u AS (UPDATE projects SET name = $3, updated_at = now() WHERE id = $1 AND user_id = $2 RETURNING id) SELECT id FROM u`,
      [projectId, userId, name.trim()],
    );
    if (rows.length === 0) throw new ProjectNotFoundError(projectId);
    return this.get(userId, projectId);
  }

  /** Ends the project's sessions, then deletes it, its versions and the blobs nothing else names. */
  async delete(userId: string, projectId: string): Promise<void> {
    await this.findOwned(userId, projectId);
    await this.workspaces.get()?.endSessions(projectId, 'its project was deleted');
    await this.versions.deleteProject(projectId, this.log);
  }

  async listVersions(
    userId: string,
    projectId: string,
    options: { limit?: number; before?: number },
  ): Promise<ProjectVersion[]> {
    await this.findOwned(userId, projectId);
    return this.versions.list(projectId, { limit: options.limit ?? 50, before: options.before });
  }

  async versionFiles(userId: string, projectId: string, versionId: string): Promise<VersionFilesResponse> {
    await this.findOwned(userId, projectId);
    const version = await this.versions.get(projectId, versionId);
    const files: VersionFileEntry[] = await this.versions.files(projectId, versionId);
    return { versionId, number: version.number, files };
  }

  async versionFile(
    userId: string,
    projectId: string,
    versionId: string,
    rawPath: unknown,
  ): Promise<VersionFileContent> {
    const path = parseWorkspacePath(rawPath, { forWrite: false });
    await this.findOwned(userId, projectId);
    const file = await this.versions.readFile(projectId, versionId, path);
    try {
      return {
        path,
        size: file.size,
        sha256: file.sha256,
        encoding: 'utf8',
        content: utf8.decode(file.content),
      };
    } catch {
      return {
        path,
        size: file.size,
        sha256: file.sha256,
        encoding: 'base64',
        content: file.content.toString('base64'),
      };
    }
  }

  /** A new version equal to `versionId`; running sessions of the project show it at once. */
  async restore(userId: string, projectId: string, versionId: string): Promise<RestoreVersionResponse> {
    await this.findOwned(userId, projectId);
    // Checked before the lock, so an unknown version answers 404 without touching a workspace.
    const target = await this.versions.get(projectId, versionId);
    const result = await this.versions.restore(projectId, versionId);
    this.log.info(
      {
        userId,
        projectId,
        restored: target.number,
        version: result.version.number,
        sessions: result.sessionsUpdated.length,
      },
      'version restored',
    );
    return { version: result.version, sessionsUpdated: result.sessionsUpdated };
  }

  /** The current version's files as an archive, streamed blob by blob. */
  async export(userId: string, projectId: string, format: ExportFormat): Promise<ProjectExport> {
    const project = await this.findOwned(userId, projectId);
    const version = await this.versions.current(projectId);
    if (!version) throw new ProjectNotFoundError(projectId);
    const files = await this.versions.files(projectId, version.id);
    const root = `${slug(project.name)}-v${version.number}`;
    const { contentType, extension } = archiveMediaType(format);
    return {
      filename: `${root}.${extension}`,
      contentType,
      stream: archiveStream(
        format,
        root,
        files.map((file) => ({ path: file.path, read: () => this.blobs.get(file.sha256) })),
        new Date(version.updatedAt),
      ),
    };
  }

  private async defaultName(userId: string): Promise<string> {
    const [{ count }]: Array<{ count: string }> = await this.db.query(
      `SELECT count(*) AS count FROM projects WHERE user_id = $1`,
      [userId],
    );
    return `Landing page ${Number(count) + 1}`;
  }
}

function toProject(row: ProjectRow, currentVersion: ProjectVersion | null): Project {
  return {
    id: row.id,
    name: row.name,
    templateName: row.template_name,
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
    currentVersion,
  };
}

/** A file-name-safe form of a project name. */
function slug(name: string): string {
  return (
    name
      .normalize('NFKD')
      .replace(/[^\w\s-]/g, '')
      .trim()
      .replace(/[\s_-]+/g, '-')
      .toLowerCase()
      .slice(0, 60) || 'project'
  );
}

import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { ACTIVE_WORKSPACE_STATUSES } from '@builder/shared';
import type { Logger } from 'pino';
import type { EntityManager } from 'typeorm';
import { ProjectNotFoundError } from '../../shared/errors/project-not-found.error';
import { ROOT_LOGGER } from '../../shared/logging/logging.module';
import { RuntimeUnavailableError, WorkspaceNotFoundError } from '../../shared/runtime/runtime.errors';
import { isIgnoredWorkspacePath } from '../../shared/runtime/workspace-path.util';
import { WORKSPACE_RUNTIME, type WorkspaceRuntime } from '../../shared/runtime/workspace-runtime.interface';
import { MAX_READ_BYTES } from '../../shared/runtime/workspace-tar.util';
import { TemplateService } from '../../shared/services/template.service';
import { BlobStore, blobHash } from '../projects/blob-store.service';
import { type Manifest, ProjectVersionsService } from '../projects/project-versions.service';
import {
  type ApplyContext,
  type ChangeSet,
  type ProjectWorkspaces,
  ProjectWorkspacesRegistry,
} from '../projects/project-workspaces.port';
import { WorkspaceSessionRepository } from './workspace-session.repository';

/** Files whose change needs a new dev server (config, dependencies): a pooled one cannot take them. */
const RESTART_FILES =
  /^(astro\.config\.[cm]?[jt]s|tailwind\.config\.[cm]?[jt]s|postcss\.config\.[cm]?[jt]s|package(-lock)?\.json|tsconfig\.json)$/;

/**
 * Keeps workspaces and their projects in step, through the runtime only:
 * - a new workspace gets the project's current version laid out over the template it was made
 *   from ({@link prepare} before the dev server starts, {@link attach} under the project's lock);
 * - every change of a project (an edit, a restore, another session's snapshot) reaches every
 *   workspace previewing it, in version order ({@link apply}, called by the projects domain);
 * - a workspace that stops has what changed inside it captured as a version ({@link capture}).
 * A workspace "mirrors" its project once attached (`layout_version_id` set); one that misses a
 * change is taken out of that state, so its capture can never undo someone else's change.
 */
@Injectable()
export class ProjectSyncService implements ProjectWorkspaces, OnModuleInit {
  private readonly log: Logger;
  private readonly templateManifests = new Map<string, Promise<Manifest>>();
  /** Ends a project's sessions (set by the workspace service: it owns the session lifecycle). */
  endSessionsOf: (projectId: string, reason: string) => Promise<void> = async () => undefined;

  constructor(
    private readonly versions: ProjectVersionsService,
    private readonly blobs: BlobStore,
    private readonly template: TemplateService,
    private readonly sessions: WorkspaceSessionRepository,
    private readonly registry: ProjectWorkspacesRegistry,
    @Inject(WORKSPACE_RUNTIME) private readonly runtime: WorkspaceRuntime,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: 'ProjectSync' });
  }

  onModuleInit(): void {
    this.registry.register(this);
  }

  /**
   * Before a fresh workspace's dev server starts: writes the project's current files over the
   * template's (deletes wait for {@link attach}: a runtime may need the workspace running for them).
   * Answers what the workspace now holds.
   */
  async prepare(projectId: string, templateName: string, workspaceId: string): Promise<Manifest> {
    const base = await this.templateManifest(templateName);
    return this.versions.withHead(projectId, async (head) => {
      const { writes } = await this.changesBetween(base, head.manifest);
      if (writes.length > 0) await this.runtime.applyChanges(workspaceId, { writes, deletes: [] });
      const holds = new Map(base);
      for (const [path, entry] of head.manifest) holds.set(path, entry);
      return holds;
    });
  }

  /**
   * Brings a workspace that holds `holds` (default: its template) to the project's current version,
   * under the project's lock, and marks it as mirroring the project. Answers the version laid out.
   * Throws when the session is no longer active (ended meanwhile).
   */
  async attach(
    sessionId: string,
    projectId: string,
    templateName: string,
    workspaceId: string,
    holds?: Manifest,
  ): Promise<{ versionId: string; changedPaths: string[] }> {
    const base = holds ?? (await this.templateManifest(templateName));
    return this.versions.withHead(projectId, async (head, manager) => {
      if (!head.version) throw new ProjectNotFoundError(projectId);
      const changes = await this.changesBetween(base, head.manifest);
      if (changes.writes.length + changes.deletes.length > 0)
        await this.runtime.applyChanges(workspaceId, changes);
      const marked: unknown[] = await manager.query(
        `WITH u AS (
           UPDATE workspace_sessions SET layout_version_id = $2
            WHERE id = $1 AND project_id = $3 AND status = ANY($4::workspace_status[]) RETURNING id
         ) SELECT id FROM u`,
        [sessionId, head.version.id, projectId, ACTIVE_WORKSPACE_STATUSES],
      );
      if (marked.length === 0)
        throw new Error(`session ${sessionId} ended before its project's files were laid out`);
      return {
        versionId: head.version.id,
        changedPaths: [...changes.writes.map((write) => write.path), ...changes.deletes],
      };
    });
  }

  /** Whether a pooled (template) workspace can take the project without a dev-server restart. */
  async poolCanServe(projectId: string, templateName: string): Promise<boolean> {
    const base = await this.templateManifest(templateName);
    return this.versions.withHead(projectId, async (head) => {
      for (const path of new Set([...base.keys(), ...head.manifest.keys()])) {
        if (RESTART_FILES.test(path) && base.get(path)?.hash !== head.manifest.get(path)?.hash) return false;
      }
      return true;
    });
  }

  /** {@link ProjectWorkspaces.apply}: the origin gets what it asked for, the others what changed. */
  async apply(
    projectId: string,
    changes: { requested: ChangeSet; effective: ChangeSet },
    context: ApplyContext,
  ): Promise<string[]> {
    const updated: string[] = [];
    const { origin } = context;
    if (origin && context.includeOrigin) {
      await this.runtime.applyChanges(origin.workspaceId, changes.requested);
      updated.push(origin.sessionId);
    }
    if (changes.effective.writes.length + changes.effective.deletes.length === 0) return updated;
    const others = (await this.mirrors(context.manager, projectId)).filter(
      (row) => row.id !== origin?.sessionId,
    );
    await Promise.all(
      others.map(async (row) => {
        try {
          await this.runtime.applyChanges(row.container_id, changes.effective);
          updated.push(row.id);
        } catch (error) {
          this.log.warn(
            { err: error, sessionId: row.id, projectId },
            'a change of the project could not reach this workspace; it no longer mirrors the project',
          );
          await context.manager.query(
            `UPDATE workspace_sessions SET layout_version_id = NULL WHERE id = $1`,
            [row.id],
          );
        }
      }),
    );
    return updated;
  }

  /**
   * Puts paths of a workspace back as the project's current version has them: undoes a change the
   * workspace got (part of it, or all) but the project did not record. A path the version does not
   * hold is removed only when it is in `created` (the change made it): a file made inside the
   * workspace by other means is left alone.
   */
  async revert(projectId: string, workspaceId: string, paths: string[], created: Set<string>): Promise<void> {
    await this.versions.withHead(projectId, async (head) => {
      const kept = paths.filter((path) => head.manifest.has(path));
      const contents = await this.blobs.getMany(kept.map((path) => head.manifest.get(path)!.hash));
      await this.runtime.applyChanges(workspaceId, {
        writes: kept.map((path) => ({ path, content: contents.get(head.manifest.get(path)!.hash)! })),
        deletes: paths.filter((path) => !head.manifest.has(path) && created.has(path)),
      });
    });
  }

  async endSessions(projectId: string, reason: string): Promise<void> {
    // Their files are not captured: the project is about to go.
    await this.sessions.detachFromProject(projectId);
    await this.endSessionsOf(projectId, reason);
  }

  /**
   * Captures what changed inside a workspace that is about to be removed (anything not written
   * through the files API) as a version of its project. Answers whether the workspace may be
   * removed: false when its files could not be saved (the store or the engine is down), so that
   * removal waits for a later attempt instead of losing them.
   */
  async capture(sessionId: string, workspaceId: string | null): Promise<boolean> {
    if (!workspaceId) return true;
    const session = await this.sessions.findById(sessionId);
    if (!session?.projectId || !session.layoutVersionId) return true;
    const log = this.log.child({ sessionId, projectId: session.projectId });
    try {
      const result = await this.versions.commit({
        projectId: session.projectId,
        kind: 'snapshot',
        authorSessionId: sessionId,
        origin: { sessionId, workspaceId },
        applyToOrigin: false,
        changes: async (head) => this.treeChanges(workspaceId, head.manifest),
      });
      if (result.outcome !== 'unchanged') {
        log.info(
          { version: result.version.number, changed: result.version.changedPaths.length },
          'captured the files changed inside the workspace',
        );
      }
      return true;
    } catch (error) {
      if (error instanceof ProjectNotFoundError || error instanceof WorkspaceNotFoundError) return true;
      log.warn(
        { err: error, transient: error instanceof RuntimeUnavailableError },
        'capturing the workspace files failed; its removal waits for a retry',
      );
      return false;
    }
  }

  /** Laid-out workspaces of a project that are alive. */
  private mirrors(
    manager: EntityManager,
    projectId: string,
  ): Promise<Array<{ id: string; container_id: string }>> {
    return manager.query(
      `SELECT id, container_id FROM workspace_sessions
        WHERE project_id = $1 AND layout_version_id IS NOT NULL AND container_id IS NOT NULL
          AND status = ANY($2::workspace_status[])`,
      [projectId, ACTIVE_WORKSPACE_STATUSES],
    );
  }

  /** The changes that make a workspace tree equal what it holds now, against the project's head. */
  private async treeChanges(workspaceId: string, head: Manifest): Promise<ChangeSet> {
    const tree = await this.runtime.readTree(workspaceId);
    // An empty tree is a wiped or unreadable workspace, not a user deleting every file.
    if (tree.length === 0) return { writes: [], deletes: [] };
    const present = new Set(tree.map((file) => file.path));
    return {
      writes: tree.filter((file) => head.get(file.path)?.hash !== blobHash(file.content)),
      // A file the tree cannot show (too large to read, a tooling folder) is not a deleted one.
      deletes: [...head.entries()]
        .filter(
          ([path, entry]) =>
            !present.has(path) && entry.size <= MAX_READ_BYTES && !isIgnoredWorkspacePath(path),
        )
        .map(([path]) => path),
    };
  }

  /** What turns a workspace holding `from` into one holding `to`, with contents from the store. */
  private async changesBetween(from: Manifest, to: Manifest): Promise<ChangeSet> {
    const changed = [...to].filter(([path, entry]) => from.get(path)?.hash !== entry.hash);
    const contents = await this.blobs.getMany(changed.map(([, entry]) => entry.hash));
    return {
      writes: changed.map(([path, entry]) => ({ path, content: contents.get(entry.hash)! })),
      deletes: [...from.keys()].filter((path) => !to.has(path)),
    };
  }

  /** The template's files as a manifest (what a fresh workspace of it holds). */
  private templateManifest(templateName: string): Promise<Manifest> {
    let manifest = this.templateManifests.get(templateName);
    if (!manifest) {
      manifest = this.template
        .templateContents(templateName)
        .then(
          (files) =>
            new Map(
              files.map((file) => [file.path, { hash: blobHash(file.content), size: file.content.length }]),
            ),
        );
      manifest.catch(() => this.templateManifests.delete(templateName));
      this.templateManifests.set(templateName, manifest);
    }
    return manifest;
  }
}

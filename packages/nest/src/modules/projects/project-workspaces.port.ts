import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { WorkspaceFileContent } from '../../shared/runtime/workspace-runtime.interface';

/** A file write of a change set. */
export type FileWrite = WorkspaceFileContent;

/** Writes (files created or replaced) and deletes (paths removed) of one change to a project. */
export interface ChangeSet {
  writes: FileWrite[];
  deletes: string[];
}

export interface ApplyContext {
  /** The transaction holding the project's lock: the only connection to use meanwhile. */
  manager: EntityManager;
  /** The session whose workspace made or asked for the change, if any, and its workspace. */
  origin: { sessionId: string; workspaceId: string } | null;
  /** Whether the origin's workspace still needs the change (an edit) or already has it (a snapshot). */
  includeOrigin: boolean;
}

/**
 * What the projects domain needs of the workspaces previewing a project, implemented by the
 * workspace module (which depends on projects, never the other way round) and registered at
 * start-up in {@link ProjectWorkspacesRegistry}.
 */
export interface ProjectWorkspaces {
  /**
   * Puts a change into every workspace that mirrors the project, called under the project's lock
   * before the version is committed. `requested` is what the origin asked for (written to the
   * origin's workspace as asked; a failure there aborts the commit); `effective` is what differs
   * from the current version (the rest get only that; a failure there takes the workspace out of
   * sync instead). Answers the sessions whose workspace was changed.
   */
  apply(
    projectId: string,
    changes: { requested: ChangeSet; effective: ChangeSet },
    context: ApplyContext,
  ): Promise<string[]>;
  /** Ends every active session of a project that is being deleted, without capturing its files. */
  endSessions(projectId: string, reason: string): Promise<void>;
}

/** Where the workspace module registers its {@link ProjectWorkspaces} (none in a projects-only test app). */
@Injectable()
export class ProjectWorkspacesRegistry {
  private workspaces: ProjectWorkspaces | null = null;

  register(workspaces: ProjectWorkspaces): void {
    this.workspaces = workspaces;
  }

  get(): ProjectWorkspaces | null {
    return this.workspaces;
  }
}

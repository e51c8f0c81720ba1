import type { Project } from '@builder/shared';
import { ApiError, toError } from '@/lib/api/api-error';
import { SnapshotStore } from '@/lib/lifecycle/snapshot-store';
import type { ProjectsApi } from './projects.api';

/** What the switcher and the builder show of the user's projects. Replaced, never mutated. */
export interface ProjectSelectionSnapshot {
  /** The user's projects as last read, most recently changed first. */
  projects: Project[];
  /** The project the builder shows. */
  current: Project | null;
  /** The project the URL asked for cannot be opened: unknown, another user's, or not an id. */
  missing: { projectId: string; message: string } | null;
  /** The builder is choosing its project (the first one, or the one after a delete). */
  isLoading: boolean;
  /** Why no project could be chosen or listed. */
  error: Error | null;
  /** A switcher action in flight. */
  pending: 'create' | 'rename' | 'delete' | null;
  /** Why the last switcher action failed. */
  actionError: Error | null;
}

export interface ProjectSelectionControllerOptions {
  api: Pick<ProjectsApi, 'listProjects' | 'getProject' | 'createProject' | 'renameProject' | 'deleteProject'>;
}

export const EMPTY_PROJECT_SELECTION: ProjectSelectionSnapshot = {
  projects: [],
  current: null,
  missing: null,
  isLoading: false,
  error: null,
  pending: null,
  actionError: null,
};

/**
 * Which project the builder shows: the one the URL names, else the user's most recently changed
 * one, else a new one; and the switcher's actions (list, new, rename, delete). Lives outside React
 * like the session controller, so effects only start and stop it.
 *
 * Every change of the chosen project takes a new generation: an answer for an older one (a slow
 * first load overtaken by a click in the switcher) does not choose a project any more.
 */
export class ProjectSelectionController {
  private readonly store = new SnapshotStore<ProjectSelectionSnapshot>(EMPTY_PROJECT_SELECTION);
  private generation = 0;
  private disposed = false;

  constructor(private readonly options: ProjectSelectionControllerOptions) {}

  getSnapshot = (): ProjectSelectionSnapshot => this.store.get();

  /** Listens to snapshot changes; returns the function that stops listening. */
  subscribe = (listener: () => void): (() => void) => this.store.subscribe(listener);

  /**
   * Chooses the builder's project: `requestedId` when given (a URL's), otherwise the most recently
   * changed one, otherwise a new one. A requested project the user cannot open is reported in
   * `missing`, and nothing is chosen: the user picks from their own projects.
   */
  async open(requestedId: string | null): Promise<void> {
    if (this.disposed) return;
    const generation = ++this.generation;
    this.update({ isLoading: true, error: null, missing: null, actionError: null });
    try {
      if (requestedId) {
        const [requested, projects] = await Promise.all([
          this.options.api.getProject(requestedId).catch((error: unknown) => {
            if (isUnopenable(error)) return null;
            throw error;
          }),
          this.options.api.listProjects(),
        ]);
        if (this.isStale(generation)) return;
        if (!requested) {
          this.update({
            projects,
            current: null,
            isLoading: false,
            missing: {
              projectId: requestedId,
              message: 'This project does not exist, or it belongs to another account.',
            },
          });
          return;
        }
        this.update({ projects: withProject(projects, requested), current: requested, isLoading: false });
        return;
      }
      const projects = await this.options.api.listProjects();
      if (this.isStale(generation)) return;
      const [latest] = projects;
      if (latest) {
        this.update({ projects, current: latest, isLoading: false });
        return;
      }
      const created = await this.options.api.createProject();
      if (this.isStale(generation)) return;
      this.update({ projects: [created], current: created, isLoading: false });
    } catch (error) {
      if (!this.isStale(generation)) this.update({ isLoading: false, error: toError(error) });
    }
  }

  /** Shows one of the listed projects. */
  switchTo(projectId: string): void {
    if (this.disposed || this.snapshot.current?.id === projectId) return;
    const project = this.snapshot.projects.find((p) => p.id === projectId);
    if (!project) {
      void this.open(projectId);
      return;
    }
    this.generation++;
    this.update({ current: project, missing: null, isLoading: false, error: null, actionError: null });
  }

  /** A new project from the template, shown at once. */
  async createProject(name?: string): Promise<Project | null> {
    return this.act('create', async () => {
      const created = await this.options.api.createProject(name ? { name } : {});
      this.generation++;
      this.update({
        projects: withProject(this.snapshot.projects, created),
        current: created,
        missing: null,
        error: null,
      });
      return created;
    });
  }

  async rename(projectId: string, name: string): Promise<Project | null> {
    return this.act('rename', async () => {
      const renamed = await this.options.api.renameProject(projectId, name);
      this.update({
        projects: this.snapshot.projects.map((p) => (p.id === projectId ? renamed : p)),
        current: this.snapshot.current?.id === projectId ? renamed : this.snapshot.current,
      });
      return renamed;
    });
  }

  /**
   * Deletes a project (the server ends its sessions). When it was the one shown, the builder goes
   * on with the most recently changed one left, or a new one.
   */
  async remove(projectId: string): Promise<boolean> {
    const done = await this.act('delete', async () => {
      try {
        await this.options.api.deleteProject(projectId);
      } catch (error) {
        // Already gone is what was asked for.
        if (!(error instanceof ApiError && error.isNotFound)) throw error;
      }
      const projects = this.snapshot.projects.filter((p) => p.id !== projectId);
      const wasCurrent = this.snapshot.current?.id === projectId;
      this.update({ projects, ...(wasCurrent ? { current: null } : {}) });
      return wasCurrent;
    });
    if (done === null) return false;
    if (done) await this.open(null);
    return true;
  }

  /** Reads the list again (names, order, current versions), keeping the chosen project. */
  async refresh(): Promise<void> {
    if (this.disposed) return;
    try {
      const projects = await this.options.api.listProjects();
      const current = this.snapshot.current;
      this.update({ projects, current: projects.find((p) => p.id === current?.id) ?? current });
    } catch (error) {
      this.update({ actionError: toError(error) });
    }
  }

  dispose(): void {
    this.disposed = true;
    this.store.close();
  }

  private async act<T>(kind: 'create' | 'rename' | 'delete', run: () => Promise<T>): Promise<T | null> {
    if (this.disposed || this.snapshot.pending) return null;
    this.update({ pending: kind, actionError: null });
    try {
      const result = await run();
      this.update({ pending: null });
      return result;
    } catch (error) {
      this.update({ pending: null, actionError: toError(error) });
      return null;
    }
  }

  private isStale(generation: number): boolean {
    return this.disposed || generation !== this.generation;
  }

  private get snapshot(): ProjectSelectionSnapshot {
    return this.store.get();
  }

  private update(patch: Partial<ProjectSelectionSnapshot>): void {
    this.store.update(patch);
  }
}

/** Not found, or not an id at all: either way not a project this user can open. */
function isUnopenable(error: unknown): boolean {
  return error instanceof ApiError && error.kind === 'http' && (error.status === 404 || error.status === 400);
}

/** The list with `project` in it: replaced where it was, else first (the most recent). */
function withProject(projects: Project[], project: Project): Project[] {
  return projects.some((p) => p.id === project.id)
    ? projects.map((p) => (p.id === project.id ? project : p))
    : [project, ...projects];
}

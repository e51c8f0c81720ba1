import type { ProjectVersion, RestoreVersionResponse } from '@builder/shared';
import { isAbortError, toError } from '@/lib/api/api-error';
import { SnapshotStore } from '@/lib/lifecycle/snapshot-store';
import type { ProjectsApi } from './projects.api';

/** What the History panel shows of one project. Replaced, never mutated. */
export interface ProjectHistorySnapshot {
  projectId: string | null;
  /** Newest first. */
  versions: ProjectVersion[];
  /** Older versions exist beyond the ones read. */
  hasMore: boolean;
  isLoading: boolean;
  error: Error | null;
  /** The version a restore is running for. */
  restoring: string | null;
  restoreError: Error | null;
}

export interface ProjectHistoryControllerOptions {
  api: Pick<ProjectsApi, 'listVersions' | 'restoreVersion'>;
  /** Versions read at a time. */
  pageSize?: number;
}

export const EMPTY_PROJECT_HISTORY: ProjectHistorySnapshot = {
  projectId: null,
  versions: [],
  hasMore: false,
  isLoading: false,
  error: null,
  restoring: null,
  restoreError: null,
};

/**
 * The versions of the project the builder shows, read again after every change the builder makes
 * (a save, a restore). Overlapping reads cancel the older one, so the list is always the latest
 * answer, never an earlier one that arrived late.
 */
export class ProjectHistoryController {
  private readonly store = new SnapshotStore<ProjectHistorySnapshot>(EMPTY_PROJECT_HISTORY);
  private reading: AbortController | null = null;
  private disposed = false;
  private readonly pageSize: number;

  constructor(private readonly options: ProjectHistoryControllerOptions) {
    this.pageSize = options.pageSize ?? 50;
  }

  getSnapshot = (): ProjectHistorySnapshot => this.store.get();

  /** Listens to snapshot changes; returns the function that stops listening. */
  subscribe = (listener: () => void): (() => void) => this.store.subscribe(listener);

  /** Follows another project (or none): its history replaces the shown one. */
  setProject(projectId: string | null): Promise<void> {
    if (this.disposed || projectId === this.snapshot.projectId) return Promise.resolve();
    this.reading?.abort();
    this.update({ ...EMPTY_PROJECT_HISTORY, projectId });
    return this.refresh();
  }

  /** Reads the newest page of versions again. */
  refresh(): Promise<void> {
    return this.read('newest');
  }

  /** Reads the page of versions older than the oldest one shown. */
  loadMore(): Promise<void> {
    return this.snapshot.hasMore ? this.read('older') : Promise.resolve();
  }

  /** Makes a new version equal to `versionId`; the running preview shows it by itself. */
  async restore(versionId: string): Promise<RestoreVersionResponse | null> {
    const projectId = this.snapshot.projectId;
    if (this.disposed || !projectId || this.snapshot.restoring) return null;
    this.update({ restoring: versionId, restoreError: null });
    try {
      const result = await this.options.api.restoreVersion(projectId, versionId);
      if (this.snapshot.projectId !== projectId) return result;
      this.update({ restoring: null });
      await this.refresh();
      return result;
    } catch (error) {
      if (this.snapshot.projectId === projectId)
        this.update({ restoring: null, restoreError: toError(error) });
      return null;
    }
  }

  dispose(): void {
    this.disposed = true;
    this.reading?.abort();
    this.store.close();
  }

  private async read(which: 'newest' | 'older'): Promise<void> {
    const projectId = this.snapshot.projectId;
    if (this.disposed || !projectId) return;
    this.reading?.abort();
    const abort = new AbortController();
    this.reading = abort;
    const shown = this.snapshot.versions;
    const before = which === 'older' ? shown.at(-1)?.number : undefined;
    this.update({ isLoading: true, error: null });
    try {
      const page = await this.options.api.listVersions(projectId, {
        limit: this.pageSize,
        before,
        signal: abort.signal,
      });
      if (this.reading !== abort) return;
      this.update({
        // A refresh starts over from the newest; older pages are read again on demand.
        versions: which === 'older' ? [...shown, ...page] : page,
        hasMore: page.length === this.pageSize,
        isLoading: false,
      });
    } catch (error) {
      if (this.reading === abort && !isAbortError(error))
        this.update({ isLoading: false, error: toError(error) });
    } finally {
      if (this.reading === abort) this.reading = null;
    }
  }

  private get snapshot(): ProjectHistorySnapshot {
    return this.store.get();
  }

  private update(patch: Partial<ProjectHistorySnapshot>): void {
    this.store.update(patch);
  }
}

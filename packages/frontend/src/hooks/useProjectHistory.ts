'use client';

import { useEffect, useMemo } from 'react';
import type { RestoreVersionResponse } from '@builder/shared';
import {
  EMPTY_PROJECT_HISTORY,
  ProjectHistoryController,
  type ProjectHistorySnapshot,
} from '@/lib/projects/project-history.controller';
import { projectsApi } from '@/lib/projects/projects.api';
import { useOwnedController } from './useOwnedController';

export interface UseProjectHistoryResult extends ProjectHistorySnapshot {
  refresh: () => Promise<void>;
  loadMore: () => Promise<void>;
  restore: (versionId: string) => Promise<RestoreVersionResponse | null>;
}

/** The versions of `projectId`, newest first, with restore. */
export function useProjectHistory(projectId: string | null): UseProjectHistoryResult {
  const [snapshot, controller] = useOwnedController(
    () => new ProjectHistoryController({ api: projectsApi() }),
    EMPTY_PROJECT_HISTORY,
  );

  // After the owner's effect, so the controller exists.
  useEffect(() => {
    void controller()?.setProject(projectId);
  }, [controller, projectId]);

  const actions = useMemo(
    () => ({
      refresh: () => controller()?.refresh() ?? Promise.resolve(),
      loadMore: () => controller()?.loadMore() ?? Promise.resolve(),
      restore: (versionId: string) => controller()?.restore(versionId) ?? Promise.resolve(null),
    }),
    [controller],
  );
  return { ...snapshot, ...actions };
}

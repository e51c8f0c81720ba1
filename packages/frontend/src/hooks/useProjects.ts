'use client';

import { useMemo } from 'react';
import type { Project } from '@builder/shared';
import {
  EMPTY_PROJECT_SELECTION,
  ProjectSelectionController,
  type ProjectSelectionSnapshot,
} from '@/lib/projects/project-selection.controller';
import { projectsApi } from '@/lib/projects/projects.api';
import { useOwnedController } from './useOwnedController';

export interface UseProjectsResult extends ProjectSelectionSnapshot {
  switchTo: (projectId: string) => void;
  createProject: (name?: string) => Promise<Project | null>;
  rename: (projectId: string, name: string) => Promise<Project | null>;
  /** Resolves true once deleted. */
  remove: (projectId: string) => Promise<boolean>;
  refresh: () => Promise<void>;
  /** Chooses the project again: this one, or (null) the most recent. */
  open: (projectId: string | null) => Promise<void>;
}

/** The user's projects and the one the builder shows: `requestedProjectId` (the URL's) if given. */
export function useProjects(requestedProjectId: string | null): UseProjectsResult {
  const [snapshot, controller] = useOwnedController(() => {
    const created = new ProjectSelectionController({ api: projectsApi() });
    void created.open(requestedProjectId);
    return created;
  }, EMPTY_PROJECT_SELECTION);

  const actions = useMemo(
    () => ({
      switchTo: (projectId: string) => controller()?.switchTo(projectId),
      createProject: (name?: string) => controller()?.createProject(name) ?? Promise.resolve(null),
      rename: (projectId: string, name: string) =>
        controller()?.rename(projectId, name) ?? Promise.resolve(null),
      remove: (projectId: string) => controller()?.remove(projectId) ?? Promise.resolve(false),
      refresh: () => controller()?.refresh() ?? Promise.resolve(),
      open: (projectId: string | null) => controller()?.open(projectId) ?? Promise.resolve(),
    }),
    [controller],
  );
  return { ...snapshot, ...actions };
}

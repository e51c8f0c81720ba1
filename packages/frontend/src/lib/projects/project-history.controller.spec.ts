import type { ProjectVersion, RestoreVersionResponse } from '@builder/shared';
import { describe, expect, it, vi, type Mock } from 'vitest';
import { ApiError } from '@/lib/api/api-error';
import { deferred } from '@/lib/testing/deferred';
import type { ListVersionsOptions } from './projects.api';
import { ProjectHistoryController, type ProjectHistoryControllerOptions } from './project-history.controller';

function version(projectId: string, number: number): ProjectVersion {
  return {
    id: `${projectId}-v${number}`,
    number,
    kind: number === 1 ? 'template' : 'edit',
    createdAt: '2024-01-01T00:00:00Z',
    updatedAt: '2024-01-01T00:00:00Z',
    authorSessionId: null,
    restoredFromVersionId: null,
    changedPaths: number === 1 ? [] : ['src/pages/index.astro'],
    filesChanged: number === 1 ? 0 : 1,
    fileCount: 10,
    totalSize: 1000,
  };
}

/** Versions 1..count of a project, served newest first the way the API pages them. */
function page(projectId: string, count: number, { limit = 50, before }: ListVersionsOptions = {}) {
  const all = Array.from({ length: count }, (_, i) => version(projectId, count - i));
  return all.filter((v) => before === undefined || v.number < before).slice(0, limit);
}

type Api = ProjectHistoryControllerOptions['api'];
type ApiMocks = { [K in keyof Api]: Mock<Api[K]> };

function setup(counts: Record<string, number>, api: Partial<ApiMocks> = {}, pageSize?: number) {
  const fullApi: ApiMocks = {
    listVersions: vi.fn<Api['listVersions']>(async (projectId, options) =>
      page(projectId, counts[projectId] ?? 0, options),
    ),
    restoreVersion: vi.fn<Api['restoreVersion']>(
      async (projectId, versionId): Promise<RestoreVersionResponse> => {
        counts[projectId] = (counts[projectId] ?? 0) + 1;
        return {
          version: {
            ...version(projectId, counts[projectId]!),
            kind: 'restore',
            restoredFromVersionId: versionId,
          },
          sessionsUpdated: ['s1'],
        };
      },
    ),
    ...api,
  };
  return { api: fullApi, controller: new ProjectHistoryController({ api: fullApi, pageSize }) };
}

const numbers = (controller: ProjectHistoryController) =>
  controller.getSnapshot().versions.map((v) => v.number);

describe('ProjectHistoryController', () => {
  it('lists the project’s versions newest first and follows a switch of project', async () => {
    const { controller } = setup({ p1: 3, p2: 1 });

    await controller.setProject('p1');
    expect(numbers(controller)).toEqual([3, 2, 1]);

    await controller.setProject('p2');
    expect(controller.getSnapshot()).toMatchObject({ projectId: 'p2', isLoading: false, error: null });
    expect(numbers(controller)).toEqual([1]);
  });

  it('restores into a new version and reads the history again', async () => {
    const { api, controller } = setup({ p1: 3 });
    await controller.setProject('p1');

    const result = await controller.restore('p1-v1');

    expect(api.restoreVersion).toHaveBeenCalledWith('p1', 'p1-v1');
    expect(result?.version.number).toBe(4);
    expect(numbers(controller)).toEqual([4, 3, 2, 1]);
    expect(controller.getSnapshot()).toMatchObject({ restoring: null, restoreError: null });
  });

  it('keeps a failed restore’s message and the history as it was', async () => {
    const { controller } = setup(
      { p1: 2 },
      {
        restoreVersion: vi.fn<Api['restoreVersion']>(async () => {
          throw new ApiError('http', 404, 'Version not found');
        }),
      },
    );
    await controller.setProject('p1');

    expect(await controller.restore('gone')).toBeNull();

    expect(controller.getSnapshot().restoreError?.message).toBe('Version not found');
    expect(controller.getSnapshot().restoring).toBeNull();
    expect(numbers(controller)).toEqual([2, 1]);
  });

  it('shows the latest of overlapping reads, not an earlier answer that arrives late', async () => {
    const early = deferred<ProjectVersion[]>();
    const counts = { p1: 2 };
    const { api, controller } = setup(counts);
    await controller.setProject('p1');
    api.listVersions.mockImplementationOnce(() => early.promise);

    const first = controller.refresh();
    counts.p1 = 3;
    await controller.refresh();
    early.resolve(page('p1', 2));
    await first;

    expect(numbers(controller)).toEqual([3, 2, 1]);
    expect(controller.getSnapshot().isLoading).toBe(false);
  });

  it('drops the answer for a project it no longer shows', async () => {
    const late = deferred<ProjectVersion[]>();
    const { api, controller } = setup({ p1: 2, p2: 1 });
    api.listVersions.mockImplementationOnce(() => late.promise);

    const first = controller.setProject('p1');
    await controller.setProject('p2');
    late.resolve(page('p1', 2));
    await first;

    expect(controller.getSnapshot().projectId).toBe('p2');
    expect(numbers(controller)).toEqual([1]);
  });

  it('reads older versions page by page', async () => {
    const { controller } = setup({ p1: 5 }, {}, 2);
    await controller.setProject('p1');
    expect(numbers(controller)).toEqual([5, 4]);
    expect(controller.getSnapshot().hasMore).toBe(true);

    await controller.loadMore();
    await controller.loadMore();

    expect(numbers(controller)).toEqual([5, 4, 3, 2, 1]);
    expect(controller.getSnapshot().hasMore).toBe(false);
  });
});

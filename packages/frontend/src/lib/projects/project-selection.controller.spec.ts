import type { Project } from '@builder/shared';
import { describe, expect, it, vi, type Mock } from 'vitest';
import { ApiError } from '@/lib/api/api-error';
import { deferred } from '@/lib/testing/deferred';
import {
  ProjectSelectionController,
  type ProjectSelectionControllerOptions,
} from './project-selection.controller';

function project(id: string, patch: Partial<Project> = {}): Project {
  return {
    id,
    name: `Project ${id}`,
    templateName: 'baseline-landing',
    createdAt: '2024-01-01T00:00:00Z',
    updatedAt: '2024-01-01T00:00:00Z',
    currentVersion: null,
    ...patch,
  };
}

type Api = ProjectSelectionControllerOptions['api'];
type ApiMocks = { [K in keyof Api]: Mock<Api[K]> };

function setup(list: Project[], api: Partial<ApiMocks> = {}) {
  let created = 0;
  const fullApi: ApiMocks = {
    listProjects: vi.fn<Api['listProjects']>(async () => list),
    getProject: vi.fn<Api['getProject']>(async (id) => {
      const found = list.find((p) => p.id === id);
      if (!found) throw new ApiError('http', 404, `Project ${id} not found`);
      return found;
    }),
    createProject: vi.fn<Api['createProject']>(async (request) =>
      project(`new${++created}`, request?.name ? { name: request.name } : {}),
    ),
    renameProject: vi.fn<Api['renameProject']>(async (id, name) => project(id, { name })),
    deleteProject: vi.fn<Api['deleteProject']>(async () => undefined),
    ...api,
  };
  return { api: fullApi, controller: new ProjectSelectionController({ api: fullApi }) };
}

const notFound = (id: string) => new ApiError('http', 404, `Project ${id} not found`);

describe('ProjectSelectionController', () => {
  it('opens the most recently changed project when the URL names none', async () => {
    const { api, controller } = setup([project('b'), project('a')]);

    await controller.open(null);

    expect(controller.getSnapshot()).toMatchObject({ current: { id: 'b' }, isLoading: false, missing: null });
    expect(controller.getSnapshot().projects.map((p) => p.id)).toEqual(['b', 'a']);
    expect(api.createProject).not.toHaveBeenCalled();
  });

  it('makes a first project for a user who has none', async () => {
    const { api, controller } = setup([]);

    await controller.open(null);

    expect(api.createProject).toHaveBeenCalledTimes(1);
    expect(controller.getSnapshot()).toMatchObject({ current: { id: 'new1' }, projects: [{ id: 'new1' }] });
  });

  it('opens the project the URL names, not the most recent one', async () => {
    const { controller } = setup([project('b'), project('a')]);

    await controller.open('a');

    expect(controller.getSnapshot().current?.id).toBe('a');
  });

  it.each([
    ['unknown or another user’s', notFound('x')],
    ['not an id', new ApiError('http', 400, 'project id must be a UUID')],
  ])(
    'reports a requested project that is %s, chooses nothing, and still lists the user’s own',
    async (_, error) => {
      const { api, controller } = setup([project('a')], {
        getProject: vi.fn<Api['getProject']>(async () => {
          throw error;
        }),
      });

      await controller.open('x');

      expect(controller.getSnapshot()).toMatchObject({
        current: null,
        isLoading: false,
        error: null,
        missing: { projectId: 'x' },
        projects: [{ id: 'a' }],
      });
      expect(api.createProject).not.toHaveBeenCalled();

      await controller.open(null);
      expect(controller.getSnapshot()).toMatchObject({ current: { id: 'a' }, missing: null });
    },
  );

  it('keeps other failures as errors, not as a missing project', async () => {
    const { controller } = setup([], {
      listProjects: vi.fn<Api['listProjects']>(async () => {
        throw new ApiError('network', 0, 'Could not reach the server');
      }),
    });

    await controller.open(null);

    expect(controller.getSnapshot()).toMatchObject({ current: null, missing: null, isLoading: false });
    expect(controller.getSnapshot().error?.message).toBe('Could not reach the server');
  });

  it('lets a switch made while the first load is slow win over that load', async () => {
    const slow = deferred<Project>();
    const { controller } = setup([project('a'), project('b')], {
      getProject: vi.fn<Api['getProject']>(() => slow.promise),
    });
    await controller.refresh();

    const first = controller.open('a');
    controller.switchTo('b');
    slow.resolve(project('a'));
    await first;

    expect(controller.getSnapshot().current?.id).toBe('b');
  });

  it('creates a project and shows it at once', async () => {
    const { controller } = setup([project('a')]);
    await controller.open(null);

    const created = await controller.createProject('Spring sale');

    expect(created).toMatchObject({ id: 'new1', name: 'Spring sale' });
    expect(controller.getSnapshot().current?.id).toBe('new1');
    expect(controller.getSnapshot().projects.map((p) => p.id)).toEqual(['new1', 'a']);
  });

  it('renames in the list and in the open project; a refused name is reported, nothing changes', async () => {
    const { api, controller } = setup([project('a'), project('b')]);
    await controller.open(null);

    await controller.rename('a', 'Renamed');
    expect(controller.getSnapshot().current?.name).toBe('Renamed');
    expect(controller.getSnapshot().projects.map((p) => p.name)).toEqual(['Renamed', 'Project b']);

    api.renameProject.mockRejectedValueOnce(new ApiError('http', 400, 'name must be at most 100 characters'));
    expect(await controller.rename('b', 'x'.repeat(101))).toBeNull();
    expect(controller.getSnapshot()).toMatchObject({
      pending: null,
      actionError: { message: 'name must be at most 100 characters' },
    });
    expect(controller.getSnapshot().projects.map((p) => p.name)).toEqual(['Renamed', 'Project b']);
  });

  it('deleting another project keeps the open one', async () => {
    const { api, controller } = setup([project('a'), project('b')]);
    await controller.open(null);

    expect(await controller.remove('b')).toBe(true);

    expect(api.deleteProject).toHaveBeenCalledWith('b');
    expect(controller.getSnapshot().current?.id).toBe('a');
    expect(controller.getSnapshot().projects.map((p) => p.id)).toEqual(['a']);
  });

  it('deleting the open project opens the most recent one left, or a new one', async () => {
    const projects = [project('a'), project('b')];
    const { api, controller } = setup(projects, {
      deleteProject: vi.fn<Api['deleteProject']>(async (id) => {
        projects.splice(
          projects.findIndex((p) => p.id === id),
          1,
        );
      }),
    });
    await controller.open(null);

    await controller.remove('a');
    expect(controller.getSnapshot().current?.id).toBe('b');

    await controller.remove('b');
    expect(api.createProject).toHaveBeenCalledTimes(1);
    expect(controller.getSnapshot().current?.id).toBe('new1');
  });

  it('treats deleting a project that is already gone as done', async () => {
    const { controller } = setup([project('a'), project('b')], {
      deleteProject: vi.fn<Api['deleteProject']>(async (id) => {
        throw notFound(id);
      }),
    });
    await controller.open(null);

    expect(await controller.remove('b')).toBe(true);
    expect(controller.getSnapshot()).toMatchObject({ actionError: null, projects: [{ id: 'a' }] });
  });

  it('runs one switcher action at a time', async () => {
    const slow = deferred<Project>();
    const { api, controller } = setup([project('a')], {
      createProject: vi.fn<Api['createProject']>(() => slow.promise),
    });

    const creating = controller.createProject();
    expect(await controller.rename('a', 'B')).toBeNull();
    expect(api.renameProject).not.toHaveBeenCalled();
    slow.resolve(project('n'));
    await creating;
    expect(controller.getSnapshot().pending).toBeNull();
  });

  it('a refresh keeps the open project, with its latest name', async () => {
    const list = [project('a'), project('b')];
    const { controller } = setup(list);
    await controller.open('b');
    list[1] = project('b', { name: 'Renamed elsewhere' });

    await controller.refresh();

    expect(controller.getSnapshot().current).toMatchObject({ id: 'b', name: 'Renamed elsewhere' });
  });
});

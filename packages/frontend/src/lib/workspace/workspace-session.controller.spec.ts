import type { ConnectionStatus, SubscribeAck, WorkspaceSession } from '@builder/shared';
import { afterEach, beforeEach, describe, expect, it, vi, type Mock } from 'vitest';
import { ApiError } from '@/lib/api/api-error';
import { deferred } from '@/lib/testing/deferred';
import { TypedEmitter } from './typed-emitter';
import type { WorkspaceSocketEvents } from './websocket.service';
import {
  WorkspaceSessionController,
  type WorkspaceSessionControllerOptions,
} from './workspace-session.controller';

function session(id: string, patch: Partial<WorkspaceSession> = {}): WorkspaceSession {
  return {
    id,
    status: 'creating',
    previewUrl: null,
    port: null,
    templateName: 'baseline-landing',
    createdAt: '2024-01-01T00:00:00Z',
    expiresAt: '2024-01-01T01:00:00Z',
    lastActivityAt: '2024-01-01T00:00:00Z',
    resourceAllocation: { memoryBytes: 1, cpuShares: 1, cpuCores: 1, pidsLimit: 1, storageBytes: 1 },
    errorMessage: null,
    buildStep: null,
    queuePosition: null,
    projectId: null,
    ...patch,
  };
}

class FakeSocket extends TypedEmitter<WorkspaceSocketEvents> {
  state: ConnectionStatus = 'connected';
  readonly subscribed: string[] = [];
  readonly unsubscribed: string[] = [];
  subscribe(sessionId: string): Promise<SubscribeAck> {
    this.subscribed.push(sessionId);
    return Promise.resolve({ ok: true });
  }
  unsubscribe(sessionId: string): Promise<SubscribeAck> {
    this.unsubscribed.push(sessionId);
    return Promise.resolve({ ok: true });
  }
  setState(state: ConnectionStatus): void {
    this.state = state;
    this.emit('connection-state', state);
  }
}

type Api = WorkspaceSessionControllerOptions['api'];
type ApiMocks = { [K in keyof Api]: Mock<Api[K]> };

function setup(api: Partial<ApiMocks> = {}) {
  let created = 0;
  const fullApi: ApiMocks = {
    createWorkspace: vi.fn<Api['createWorkspace']>(async () => session(`s${++created}`)),
    getWorkspaceStatus: vi.fn<Api['getWorkspaceStatus']>(async (id) => session(id)),
    deleteWorkspace: vi.fn<Api['deleteWorkspace']>(async () => undefined),
    restartWorkspace: vi.fn<Api['restartWorkspace']>(async (id) => session(id)),
    ...api,
  };
  const socket = new FakeSocket();
  const controller = new WorkspaceSessionController({
    api: fullApi,
    socket,
    pollIntervalMs: 1_000,
    connectedPollIntervalMs: 3_000,
    maxEvents: 2,
  });
  return { api: fullApi, socket, controller };
}

const flush = () => vi.advanceTimersByTimeAsync(0);

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('WorkspaceSessionController', () => {
  it('creates a workspace, subscribes to it, and reports loading until it runs', async () => {
    const { api, socket, controller } = setup();

    const pending = controller.createWorkspace();
    expect(controller.getSnapshot().isLoading).toBe(true);
    await pending;

    expect(api.createWorkspace).toHaveBeenCalledTimes(1);
    expect(socket.subscribed).toEqual(['s1']);
    expect(controller.getSnapshot()).toMatchObject({
      workspace: { id: 's1', status: 'creating' },
      isLoading: true,
    });
  });

  it('polls the status as a fallback until the workspace runs, faster while the socket is down', async () => {
    const { api, socket, controller } = setup();
    api.getWorkspaceStatus
      .mockResolvedValueOnce(session('s1', { buildStep: 'installing' }))
      .mockResolvedValueOnce(
        session('s1', { status: 'running', previewUrl: 'http://localhost:8005', port: 8005 }),
      );
    await controller.createWorkspace();

    await vi.advanceTimersByTimeAsync(2_999);
    expect(api.getWorkspaceStatus).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(api.getWorkspaceStatus).toHaveBeenCalledTimes(1);
    expect(controller.getSnapshot().buildSteps.map((s) => s.step)).toEqual(['installing']);

    socket.setState('reconnecting');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(api.getWorkspaceStatus).toHaveBeenCalledTimes(2);
    expect(controller.getSnapshot()).toMatchObject({
      workspace: { status: 'running', previewUrl: 'http://localhost:8005' },
      isLoading: false,
      error: null,
    });

    await vi.advanceTimersByTimeAsync(60_000);
    expect(api.getWorkspaceStatus).toHaveBeenCalledTimes(2);
  });

  it('keeps the problems the verdicts report, cleared by a verdict that compiles, from the socket or a verify answer', async () => {
    const { socket, controller } = setup();
    await controller.createWorkspace();
    const page = 'src/pages/index.astro';
    const error = { file: page, line: 3, column: 5, message: 'Unexpected "}"', paths: [page] };

    socket.emit('error', { sessionId: 's1', ...error, at: 't1' });
    socket.emit('error', { sessionId: 'other', ...error, line: 9, at: 't1' });
    expect(controller.getSnapshot().problems).toMatchObject([{ file: page, line: 3, column: 5 }]);

    socket.emit('ok', { sessionId: 'other', paths: [page], checked: ['/'], at: 't2' });
    expect(controller.getSnapshot().problems).toHaveLength(1);
    socket.emit('ok', { sessionId: 's1', paths: [page], checked: ['/'], at: 't2' });
    expect(controller.getSnapshot()).toMatchObject({ problems: [], buildErrors: [] });

    // The socket is down: the answer of a verified save still shows, and clears, the problem.
    controller.reportVerdict('s1', [page], { ok: false, errors: [{ file: page, line: 7, message: 'x' }] });
    expect(controller.getSnapshot().problems).toMatchObject([{ file: page, line: 7 }]);
    controller.reportVerdict('other', [page], { ok: true, errors: [] });
    expect(controller.getSnapshot().problems).toHaveLength(1);
    controller.reportVerdict('s1', [page], { ok: true, errors: [] });
    expect(controller.getSnapshot().problems).toEqual([]);
  });

  it('feeds its own session\'s dev-server lines to the console, and starts it over with a new session', async () => {
    const { socket, controller } = setup();
    await controller.createWorkspace();
    const line = (sessionId: string, text: string, at: string) =>
      socket.emit('log', { sessionId, stream: 'stdout', line: text, at });

    line('s1', 'astro ready', '2024-01-01T00:00:01Z');
    line('other', 'not mine', '2024-01-01T00:00:02Z');
    expect(controller.logs.getSnapshot().lines.map((l) => l.line)).toEqual(['astro ready']);

    await controller.createWorkspace();
    expect(controller.logs.getSnapshot().lines).toEqual([]);
    line('s1', 'the old session', '2024-01-01T00:00:03Z');
    line('s2', 'a new start', '2024-01-01T00:00:00Z');
    expect(controller.logs.getSnapshot().lines.map((l) => l.line)).toEqual(['a new start']);
  });

  it('follows socket events of its own session only', async () => {
    const { api, socket, controller } = setup();
    api.getWorkspaceStatus.mockResolvedValue(session('s1', { status: 'running', previewUrl: 'http://p' }));
    await controller.createWorkspace();
    const at = '2024-01-01T00:00:01Z';

    socket.emit('build-status', { sessionId: 's1', step: 'pulling', at });
    socket.emit('build-status', { sessionId: 'other', step: 'installing', at });
    socket.emit('hmr-update', { sessionId: 's1', kind: 'update', paths: ['a'], at });
    socket.emit('hmr-update', { sessionId: 's1', kind: 'css', paths: ['b'], at });
    socket.emit('hmr-update', { sessionId: 's1', kind: 'full-reload', paths: ['c'], at });
    socket.emit('error', { sessionId: 's1', message: 'Unexpected token', at });
    socket.emit('error', { sessionId: 'other', message: 'not mine', at });

    const snapshot = controller.getSnapshot();
    expect(snapshot.buildSteps.map((s) => s.step)).toEqual(['pulling']);
    expect(snapshot.hmrEvents.map((e) => e.paths[0])).toEqual(['c', 'b']);
    expect(snapshot.buildErrors.map((e) => e.message)).toEqual(['Unexpected token']);

    socket.emit('status', { sessionId: 's1', status: 'running', previous: 'creating', at });
    expect(controller.getSnapshot().workspace?.status).toBe('running');
    await flush();
    expect(api.getWorkspaceStatus).toHaveBeenCalledTimes(1);
    expect(controller.getSnapshot().workspace?.previewUrl).toBe('http://p');
  });

  it('surfaces a failed start with the server message', async () => {
    const { socket, controller } = setup();
    await controller.createWorkspace();

    socket.emit('status', {
      sessionId: 's1',
      status: 'error',
      previous: 'creating',
      reason: 'image missing',
      at: 'x',
    });

    expect(controller.getSnapshot()).toMatchObject({ isLoading: false, workspace: { status: 'error' } });
    expect(controller.getSnapshot().error?.message).toBe('image missing');
  });

  it('keeps the API error of a failed create', async () => {
    const { controller } = setup({
      createWorkspace: vi.fn(async () => {
        throw new ApiError('http', 429, 'Workspace quota reached');
      }),
    });

    await controller.createWorkspace();

    expect(controller.getSnapshot()).toMatchObject({ isLoading: false, workspace: null });
    expect(controller.getSnapshot().error).toMatchObject({ status: 429, message: 'Workspace quota reached' });
  });

  it('deletes a workspace whose create answers after dispose', async () => {
    const creation = deferred<WorkspaceSession>();
    const { api, controller } = setup({ createWorkspace: vi.fn(() => creation.promise) });
    const listener = vi.fn();
    controller.subscribe(listener);

    const pending = controller.createWorkspace();
    listener.mockClear();
    controller.dispose();
    creation.resolve(session('late'));
    await pending;

    expect(api.deleteWorkspace).toHaveBeenCalledWith('late', { keepalive: false });
    expect(listener).not.toHaveBeenCalled();
  });

  it('deletes the running workspace on dispose, with keepalive when asked', async () => {
    const { api, socket, controller } = setup();
    await controller.createWorkspace();

    controller.dispose({ keepalive: true });
    await flush();

    expect(api.deleteWorkspace).toHaveBeenCalledWith('s1', { keepalive: true });
    expect(socket.unsubscribed).toEqual(['s1']);
    expect(socket.listenerCount('status')).toBe(0);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(api.getWorkspaceStatus).not.toHaveBeenCalled();
  });

  it('replaces the current workspace when asked to create again', async () => {
    const { api, socket, controller } = setup();
    await controller.createWorkspace();

    await controller.createWorkspace();

    expect(api.deleteWorkspace).toHaveBeenCalledWith('s1', { keepalive: false });
    expect(socket.subscribed).toEqual(['s1', 's2']);
    expect(controller.getSnapshot().workspace?.id).toBe('s2');
  });

  it('keeps only the latest of two overlapping creates and deletes the other', async () => {
    const first = deferred<WorkspaceSession>();
    const second = deferred<WorkspaceSession>();
    const { api, controller } = setup({
      createWorkspace: vi.fn().mockReturnValueOnce(first.promise).mockReturnValueOnce(second.promise),
    });

    const a = controller.createWorkspace();
    const b = controller.createWorkspace();
    second.resolve(session('b'));
    first.resolve(session('a'));
    await Promise.all([a, b]);

    expect(controller.getSnapshot().workspace?.id).toBe('b');
    expect(api.deleteWorkspace).toHaveBeenCalledWith('a', { keepalive: false });
    expect(api.deleteWorkspace).toHaveBeenCalledTimes(1);
  });

  it('restarts through delete + create when the API has no restart route', async () => {
    const { api, controller } = setup({
      restartWorkspace: vi.fn(async () => {
        throw new ApiError('http', 404, 'Cannot POST /api/v1/workspace/s1/restart');
      }),
    });
    await controller.createWorkspace();

    await controller.restartWorkspace();

    expect(api.deleteWorkspace).toHaveBeenCalledWith('s1', { keepalive: false });
    expect(api.createWorkspace).toHaveBeenCalledTimes(2);
    expect(controller.getSnapshot().workspace?.id).toBe('s2');
  });

  it('uses the restart route when it exists', async () => {
    const { api, controller } = setup();
    await controller.createWorkspace();

    await controller.restartWorkspace();

    expect(api.restartWorkspace).toHaveBeenCalledWith('s1');
    expect(api.deleteWorkspace).not.toHaveBeenCalled();
    expect(api.createWorkspace).toHaveBeenCalledTimes(1);
  });

  it('previews the project it is given and opens it only once', async () => {
    const { api, controller } = setup({
      createWorkspace: vi.fn<Api['createWorkspace']>(async (request) =>
        session('s1', { projectId: request?.projectId ?? null }),
      ),
    });

    const first = controller.openProject('p1');
    const again = controller.openProject('p1');
    await Promise.all([first, again]);
    await controller.openProject('p1');

    expect(api.createWorkspace).toHaveBeenCalledTimes(1);
    expect(api.createWorkspace).toHaveBeenCalledWith({ templateName: undefined, projectId: 'p1' });
    expect(controller.getSnapshot().workspace).toMatchObject({ id: 's1', projectId: 'p1' });
  });

  it('switching project ends the current session before starting one for the other project', async () => {
    const order: string[] = [];
    let created = 0;
    const { api, socket, controller } = setup({
      createWorkspace: vi.fn<Api['createWorkspace']>(async (request) => {
        order.push(`create ${request?.projectId}`);
        return session(`s${++created}`, { projectId: request?.projectId ?? null });
      }),
      deleteWorkspace: vi.fn<Api['deleteWorkspace']>(async (id) => {
        order.push(`delete ${id}`);
      }),
    });
    await controller.openProject('p1');

    await controller.openProject('p2');

    expect(order).toEqual(['create p1', 'delete s1', 'create p2']);
    expect(socket.unsubscribed).toEqual(['s1']);
    expect(controller.getSnapshot().workspace).toMatchObject({ id: 's2', projectId: 'p2' });
    expect(controller.project).toBe('p2');
    expect(api.deleteWorkspace).toHaveBeenCalledTimes(1);
  });

  it('keeps the project a create without one made, so a retry previews the same project', async () => {
    const { api, controller } = setup({
      createWorkspace: vi.fn<Api['createWorkspace']>(async (request) =>
        session('s1', { projectId: request?.projectId ?? 'made-by-api' }),
      ),
    });
    await controller.createWorkspace();

    await controller.createWorkspace();

    expect(api.createWorkspace.mock.calls.map(([request]) => request?.projectId)).toEqual([
      undefined,
      'made-by-api',
    ]);
    expect(controller.project).toBe('made-by-api');
  });

  it('forgets a workspace the status poll no longer finds', async () => {
    const { api, socket, controller } = setup();
    api.getWorkspaceStatus.mockRejectedValue(new ApiError('http', 404, 'Session not found'));
    await controller.createWorkspace();

    socket.setState('reconnecting');
    socket.setState('connected');
    await flush();

    expect(controller.getSnapshot()).toMatchObject({ workspace: null, isLoading: false });
    expect(controller.getSnapshot().error?.message).toBe('Session not found');
    expect(socket.unsubscribed).toEqual(['s1']);
    controller.dispose();
    expect(api.deleteWorkspace).not.toHaveBeenCalled();
  });

  it('treats a 404 on delete as done', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const { controller } = setup({
      deleteWorkspace: vi.fn(async () => {
        throw new ApiError('http', 404, 'Not found');
      }),
    });
    await controller.createWorkspace();

    await controller.deleteWorkspace();

    expect(controller.getSnapshot().workspace).toBeNull();
    expect(warn).not.toHaveBeenCalled();
    warn.mockRestore();
  });
});

import {
  WorkspaceStatus,
  type BuildErrorEvent,
  type BuildStatusEvent,
  type ConnectionStatus,
  type HMREvent,
  type StatusEvent,
  type SubscribeAck,
  type Verdict,
  type WorkspaceSession,
} from '@builder/shared';
import { ApiError, errorMessage, isAbortError, toError } from '@/lib/api/api-error';
import { SnapshotStore } from '@/lib/lifecycle/snapshot-store';
import { withErrorEvent, withVerdict, type CompileProblem } from './compile-problems';
import { LogFeed } from './log-buffer';
import type { WorkspaceApi } from './workspace.api';
import type { WorkspaceSocketEvents } from './websocket.service';

/** What the UI shows of the tab's workspace. Replaced, never mutated. */
export interface WorkspaceSnapshot {
  workspace: WorkspaceSession | null;
  /** A create or restart is in flight, or the workspace is still starting. */
  isLoading: boolean;
  error: Error | null;
  /** Start-up steps seen so far, one entry per step, in the order they arrived. */
  buildSteps: BuildStatusEvent[];
  /** Latest hot updates, newest first. */
  hmrEvents: HMREvent[];
  /** Latest build errors, newest first; a verdict that compiles clears them. */
  buildErrors: BuildErrorEvent[];
  /** The compile errors the workspace stands with now, by the verdicts of its changes. */
  problems: CompileProblem[];
  connectionState: ConnectionStatus;
}

/** The part of the socket service the controller uses. */
export interface WorkspaceSocketLike {
  readonly state: ConnectionStatus;
  on<E extends keyof WorkspaceSocketEvents>(event: E, listener: WorkspaceSocketEvents[E]): () => void;
  subscribe(sessionId: string): Promise<SubscribeAck>;
  unsubscribe(sessionId: string): Promise<SubscribeAck>;
}

export interface WorkspaceSessionControllerOptions {
  api: Pick<WorkspaceApi, 'createWorkspace' | 'getWorkspaceStatus' | 'deleteWorkspace' | 'restartWorkspace'>;
  socket: WorkspaceSocketLike;
  templateName?: string;
  /** Status poll interval while the socket is down. */
  pollIntervalMs?: number;
  /** Status poll interval while the socket is up: only a safety net for a missed event. */
  connectedPollIntervalMs?: number;
  /** How many HMR events and build errors to keep. */
  maxEvents?: number;
  /** How many of the dev server's output lines the console keeps. */
  maxLogLines?: number;
}

export const EMPTY_WORKSPACE_SNAPSHOT: WorkspaceSnapshot = {
  workspace: null,
  isLoading: false,
  error: null,
  buildSteps: [],
  hmrEvents: [],
  buildErrors: [],
  problems: [],
  connectionState: 'disconnected',
};

/**
 * Owns one tab's workspace: creates it, follows its start through socket events with status polls
 * as a fallback, and deletes it. Lives outside React so that effects only start and stop it.
 *
 * Every operation takes a new generation; an answer that arrives for an older generation is
 * dropped, and a workspace created for one is deleted at once, so no session is ever leaked.
 */
export class WorkspaceSessionController {
  private readonly store: SnapshotStore<WorkspaceSnapshot>;
  private readonly socketListeners: Array<() => void> = [];
  private generation = 0;
  private pollTimer: ReturnType<typeof setTimeout> | null = null;
  private pollAbort: AbortController | null = null;
  private disposed = false;
  /** The project every create previews; null until one is chosen (a create then makes a new one). */
  private projectId: string | null = null;
  private readonly pollIntervalMs: number;
  private readonly connectedPollIntervalMs: number;
  private readonly maxEvents: number;
  private verifyAnswers = 0;
  /** The current session's dev-server output, for the console; started over with each session. */
  readonly logs: LogFeed;

  constructor(private readonly options: WorkspaceSessionControllerOptions) {
    this.pollIntervalMs = options.pollIntervalMs ?? 2_000;
    this.connectedPollIntervalMs = options.connectedPollIntervalMs ?? 5_000;
    this.maxEvents = options.maxEvents ?? 10;
    this.logs = new LogFeed(options.maxLogLines ?? 1_000);
    this.store = new SnapshotStore({ ...EMPTY_WORKSPACE_SNAPSHOT, connectionState: options.socket.state });
    this.wireSocket(options.socket);
  }

  getSnapshot = (): WorkspaceSnapshot => this.store.get();

  /** Listens to snapshot changes; returns the function that stops listening. */
  subscribe = (listener: () => void): (() => void) => this.store.subscribe(listener);

  /** The project the workspace previews (or will, once created). */
  get project(): string | null {
    return this.projectId;
  }

  /**
   * Previews `projectId`: ends the current session and starts one for the project. Opening the
   * project already shown (or starting) does nothing, so a re-run effect cannot start a second one.
   */
  async openProject(projectId: string): Promise<WorkspaceSession | null> {
    if (this.disposed) return null;
    const { workspace, isLoading } = this.snapshot;
    if (projectId === this.projectId && (workspace !== null || isLoading)) return workspace;
    this.projectId = projectId;
    return this.createWorkspace();
  }

  /** Creates a workspace for the current project, deleting the current one first. */
  async createWorkspace(): Promise<WorkspaceSession | null> {
    if (this.disposed) return null;
    const generation = ++this.generation;
    const previous = this.snapshot.workspace;
    this.stopPolling();
    this.update({
      ...EMPTY_WORKSPACE_SNAPSHOT,
      isLoading: true,
      connectionState: this.snapshot.connectionState,
    });
    if (previous) await this.release(previous.id);
    if (this.isStale(generation)) return null;

    try {
      const session = await this.options.api.createWorkspace({
        templateName: this.options.templateName,
        projectId: this.projectId ?? undefined,
      });
      if (this.isStale(generation)) {
        // The page left or another create superseded this one while the server was working.
        await this.release(session.id);
        return null;
      }
      this.adopt(session);
      return session;
    } catch (error) {
      if (!this.isStale(generation)) this.update({ isLoading: false, error: toError(error) });
      return null;
    }
  }

  /** Restarts the workspace: the API's restart route where it exists, otherwise delete + create. */
  async restartWorkspace(): Promise<WorkspaceSession | null> {
    const current = this.snapshot.workspace;
    if (this.disposed) return null;
    if (!current) return this.createWorkspace();
    const generation = ++this.generation;
    this.stopPolling();
    this.update({ isLoading: true, error: null, buildSteps: [], buildErrors: [], hmrEvents: [], problems: [] });
    try {
      const session = await this.options.api.restartWorkspace(current.id);
      if (this.isStale(generation)) return null;
      this.adopt(session);
      return session;
    } catch (error) {
      if (this.isStale(generation)) return null;
      if (error instanceof ApiError && error.kind === 'http' && [404, 405, 501].includes(error.status)) {
        return this.createWorkspace();
      }
      this.update({ isLoading: false, error: toError(error) });
      return null;
    }
  }

  /** Deletes the workspace; `keepalive` lets the request outlive a closing tab. */
  async deleteWorkspace(options: { keepalive?: boolean } = {}): Promise<void> {
    this.generation++;
    this.stopPolling();
    const current = this.snapshot.workspace;
    if (!this.disposed) {
      this.update({ ...EMPTY_WORKSPACE_SNAPSHOT, connectionState: this.snapshot.connectionState });
    }
    if (current) await this.release(current.id, options.keepalive);
  }

  /**
   * Takes in the verdict a verify answer of a change of the current session carried, so the
   * problems show even when the socket is down; the socket's own `ok`/`error` events agree.
   */
  reportVerdict(sessionId: string, paths: string[], verdict: Verdict): void {
    if (this.disposed || this.snapshot.workspace?.id !== sessionId) return;
    const problems = withVerdict(this.snapshot.problems, paths, verdict, `answer-${++this.verifyAnswers}`);
    this.update(verdict.ok ? { problems, buildErrors: [] } : { problems });
  }

  /** Stops everything and deletes the workspace, including one whose creation is still in flight. */
  dispose(options: { keepalive?: boolean } = {}): void {
    if (this.disposed) return;
    this.disposed = true;
    this.store.close();
    this.logs.close();
    for (const stop of this.socketListeners.splice(0)) stop();
    void this.deleteWorkspace(options);
  }

  private adopt(session: WorkspaceSession): void {
    // A create without a project made one: later creates (retry, restart) preview the same.
    this.projectId = session.projectId ?? this.projectId;
    const previousId = this.snapshot.workspace?.id;
    if (previousId && previousId !== session.id) void this.options.socket.unsubscribe(previousId);
    if (previousId !== session.id) void this.options.socket.subscribe(session.id);
    this.applySession(session);
  }

  private applySession(session: WorkspaceSession): void {
    const buildSteps = this.snapshot.buildSteps;
    const knownStep = session.buildStep === null || buildSteps.some((s) => s.step === session.buildStep);
    this.update({
      workspace: session,
      isLoading: session.status === WorkspaceStatus.Creating,
      error: session.status === WorkspaceStatus.Error ? sessionError(session) : null,
      // A page that opens late still shows where the start is.
      buildSteps: knownStep
        ? buildSteps
        : [
            ...buildSteps,
            {
              sessionId: session.id,
              step: session.buildStep!,
              queuePosition: session.queuePosition ?? undefined,
              at: session.lastActivityAt,
            },
          ],
    });
    this.schedulePoll();
  }

  private wireSocket(socket: WorkspaceSocketLike): void {
    const isCurrent = (sessionId: string): boolean => this.snapshot.workspace?.id === sessionId;
    this.socketListeners.push(
      socket.on('connection-state', (connectionState) => {
        this.update({ connectionState });
        // Events sent while the socket was down are lost: read the state once instead.
        if (connectionState === 'connected') this.pollNow();
        else this.schedulePoll();
      }),
      socket.on('build-status', (event) => {
        if (!isCurrent(event.sessionId)) return;
        const others = this.snapshot.buildSteps.filter((s) => s.step !== event.step);
        this.update({ buildSteps: [...others, event] });
        if (event.step === 'ready' || event.step === 'error') this.pollNow();
      }),
      socket.on('status', (event) => {
        if (!isCurrent(event.sessionId)) return;
        this.applyStatusEvent(event);
      }),
      socket.on('hmr-update', (event) => {
        if (!isCurrent(event.sessionId)) return;
        this.update({ hmrEvents: [event, ...this.snapshot.hmrEvents].slice(0, this.maxEvents) });
      }),
      socket.on('error', (event) => {
        if (!isCurrent(event.sessionId)) return;
        this.update({
          buildErrors: [event, ...this.snapshot.buildErrors].slice(0, this.maxEvents),
          problems: withErrorEvent(this.snapshot.problems, event),
        });
      }),
      // A change whose pages all compile: whatever was broken before is not any more.
      socket.on('ok', (event) => {
        if (!isCurrent(event.sessionId)) return;
        this.update({ buildErrors: [], problems: [] });
      }),
      socket.on('log', (event) => {
        if (isCurrent(event.sessionId)) this.logs.push(event);
      }),
    );
  }

  private applyStatusEvent(event: StatusEvent): void {
    const workspace = this.snapshot.workspace;
    if (!workspace || workspace.status === event.status) return;
    const next: WorkspaceSession = {
      ...workspace,
      status: event.status,
      errorMessage: event.status === WorkspaceStatus.Error ? (event.reason ?? workspace.errorMessage) : null,
    };
    this.applySession(next);
    // The event has no preview URL or port: read the full session.
    if (event.status !== WorkspaceStatus.Creating) this.pollNow();
  }

  private schedulePoll(delay?: number): void {
    this.stopPolling();
    const workspace = this.snapshot.workspace;
    if (this.disposed || !workspace || workspace.status !== WorkspaceStatus.Creating) return;
    const interval =
      delay ??
      (this.snapshot.connectionState === 'connected' ? this.connectedPollIntervalMs : this.pollIntervalMs);
    this.pollTimer = setTimeout(() => {
      this.pollTimer = null;
      void this.poll();
    }, interval);
  }

  private pollNow(): void {
    const workspace = this.snapshot.workspace;
    if (this.disposed || !workspace) return;
    this.stopPolling();
    void this.poll();
  }

  private async poll(): Promise<void> {
    const workspace = this.snapshot.workspace;
    if (!workspace) return;
    const generation = this.generation;
    const abort = new AbortController();
    this.pollAbort = abort;
    try {
      // Few retries: the poll loop itself tries again.
      const session = await this.options.api.getWorkspaceStatus(workspace.id, {
        signal: abort.signal,
        retries: 1,
      });
      if (this.isStale(generation) || this.snapshot.workspace?.id !== session.id) return;
      this.applySession(session);
    } catch (error) {
      if (isAbortError(error) || this.isStale(generation)) return;
      if (error instanceof ApiError && error.isNotFound) {
        // Removed on the server (expired, or the API lost it): nothing left to follow or delete.
        void this.options.socket.unsubscribe(workspace.id);
        this.update({ workspace: null, isLoading: false, error });
        return;
      }
      if (error instanceof ApiError && error.kind === 'http' && error.status >= 400 && error.status < 500) {
        // Not ours any more, or the token expired: polling again cannot help.
        this.update({ isLoading: false, error });
        return;
      }
      this.schedulePoll();
    } finally {
      if (this.pollAbort === abort) this.pollAbort = null;
    }
  }

  private stopPolling(): void {
    if (this.pollTimer !== null) clearTimeout(this.pollTimer);
    this.pollTimer = null;
    this.pollAbort?.abort();
    this.pollAbort = null;
  }

  private async release(sessionId: string, keepalive = false): Promise<void> {
    void this.options.socket.unsubscribe(sessionId);
    try {
      await this.options.api.deleteWorkspace(sessionId, { keepalive });
    } catch (error) {
      // Already gone is what we wanted; anything else expires on the server's idle timeout.
      if (!(error instanceof ApiError && error.isNotFound)) {
        console.warn(`Could not delete workspace ${sessionId}: ${errorMessage(error)}`);
      }
    }
  }

  private isStale(generation: number): boolean {
    return this.disposed || generation !== this.generation;
  }

  private get snapshot(): WorkspaceSnapshot {
    return this.store.get();
  }

  private update(patch: Partial<WorkspaceSnapshot>): void {
    // Another session (or none): its console starts empty, before any of its lines can arrive.
    if ('workspace' in patch && patch.workspace?.id !== this.snapshot.workspace?.id) this.logs.reset();
    this.store.update(patch);
  }
}

function sessionError(session: WorkspaceSession): Error {
  return new Error(session.errorMessage ?? 'The workspace failed to start');
}

import { cpus } from 'node:os';
import { Inject, Injectable } from '@nestjs/common';
import { type BuildStep, type ContainerSpec, WorkspaceStatus } from '@builder/shared';
import type { Logger } from 'pino';
import { AppConfig } from '../../config/app-config';
import { ROOT_LOGGER } from '../../shared/logging/logging.module';
import { DEFAULT_CONTAINER_PORT, PREVIEW_WEB_ORIGINS_ENV } from '../../shared/runtime/dev-server.constants';
import { PortUnavailableError } from '../../shared/runtime/runtime.errors';
import { WORKSPACE_RUNTIME, type WorkspaceRuntime } from '../../shared/runtime/workspace-runtime.interface';
import { TemplateService } from '../../shared/services/template.service';
import type { Manifest } from '../projects/project-versions.service';
import { leaseName, LeaseService } from './cluster/lease.service';
import type { WorkspaceSessionEntity } from './entities/session.entity';
import { PortAllocator } from './port-allocator.service';
import { PreviewUrlService } from './preview-url.service';
import { ProjectSyncService } from './project-sync.service';
import { START_QUEUE, type StartQueue } from './start-queue';
import { WorkspaceEventsService } from './workspace-events.service';
import { WorkspaceRemovalService } from './workspace-removal.service';
import { WorkspaceSessionRepository } from './workspace-session.repository';

const { Creating, Running, Stopping, Stopped, Error: Failed } = WorkspaceStatus;

/** The session was moved by someone else (deleted, shut down) while a start was in progress. */
class SupersededError extends Error {
  constructor() {
    super('superseded');
  }
}

/** How many times a start picks another port when the runtime finds its port taken. */
const PORT_RETRIES = 2;
/** How long shutdown waits for in-flight starts to notice and clean up. */
const SHUTDOWN_SETTLE_MS = 15_000;
/**
 * The start job of sessions: each queued start (create or restart) brings a `creating` session to
 * `running` (image, workspace, the project's files, dev server) or to `error` with everything it
 * made removed; at shutdown, starts that had not finished end in `error`.
 */
@Injectable()
export class WorkspaceStarterService {
  private readonly log: Logger;
  /**
   * Sessions whose start this process drives right now: their workspace, and whether it holds its
   * project's files yet (before that, a removal has nothing of the user's to capture).
   */
  private readonly inFlight = new Map<string, { containerId: string | null; attached: boolean }>();
  /** Sessions this process brought to `running` on the local runtime (their processes are our children). */
  private readonly localRunning = new Set<string>();
  private shuttingDown = false;

  constructor(
    private readonly config: AppConfig,
    private readonly sessions: WorkspaceSessionRepository,
    private readonly ports: PortAllocator,
    private readonly events: WorkspaceEventsService,
    private readonly template: TemplateService,
    private readonly sync: ProjectSyncService,
    private readonly leases: LeaseService,
    private readonly removal: WorkspaceRemovalService,
    private readonly previewUrls: PreviewUrlService,
    @Inject(START_QUEUE) private readonly queue: StartQueue,
    @Inject(WORKSPACE_RUNTIME) private readonly runtime: WorkspaceRuntime,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: 'WorkspaceStarter' });
    queue.onPositionsChanged = (positions) => {
      for (const [sessionId, queuePosition] of positions) {
        this.events.buildStep(sessionId, 'queued', {
          queuePosition,
          message: `waiting for a start slot (#${queuePosition})`,
        });
      }
    };
  }

  /** Whether this process is shutting down (it takes no new start). */
  get closing(): boolean {
    return this.shuttingDown;
  }

  /** Drops a queued start (a start already running sees its session move and cleans up after itself). */
  async cancel(sessionId: string): Promise<void> {
    if (this.queue.cancel(sessionId))
      await this.leases.release(leaseName.start(sessionId)).catch(() => undefined);
  }

  /** The session's place in this process's start queue (0: starting now), or null. */
  position(sessionId: string): number | null {
    return this.queue.position(sessionId);
  }

  /** A session ended: its local processes are no longer this process's to end at shutdown. */
  forget(sessionId: string): void {
    this.localRunning.delete(sessionId);
  }

  /**
   * Queues a session's start here under its start lease, which tells every replica's
   * reconciliation that the session is alive however long it waits (only the lease of a replica
   * that died expires). Answers the queue position.
   */
  async enqueue(id: string, mode: 'create' | 'restart', priority?: 'background'): Promise<number> {
    await this.leases.acquire(leaseName.start(id));
    return this.queue.enqueue(
      id,
      () =>
        this.runStart(id, mode).finally(() =>
          this.leases
            .release(leaseName.start(id))
            .catch((error: unknown) =>
              this.log.warn({ err: error, sessionId: id }, 'releasing a start lease failed'),
            ),
        ),
      priority,
    );
  }

  /**
   * Brings a `creating` session to `running`: image, workspace, start, template and dev server.
   * Runs from the start queue; never throws. Any failure ends in status `error` with everything
   * released; a session moved meanwhile (deleted) has whatever this job created removed.
   */
  private async runStart(id: string, mode: 'create' | 'restart'): Promise<void> {
    const log = this.log.child({ sessionId: id });
    const startedAt = Date.now();
    // A restart's workspace has mirrored its project since it first ran.
    const state = { containerId: null as string | null, attached: mode === 'restart' };
    const timings = new StepTimings();
    this.inFlight.set(id, state);
    try {
      const session = await this.sessions.findById(id);
      if (!session || session.status !== Creating || this.shuttingDown) throw new SupersededError();
      state.containerId = session.containerId;

      if (mode === 'create') {
        await this.step(timings, id, 'creating', 'preparing the workspace');
        const template = this.template.templateDefinition(session.templateName);
        await this.step(timings, id, 'pulling', `checking image ${template.image}`);
        const pulled = await this.runtime.ensureImage(template.image, (message) =>
          this.events.buildStep(id, 'pulling', { message }),
        );
        await this.step(timings, id, 'starting', 'starting the workspace');
        const started = await this.createAndStart(session, template.image, log);
        state.containerId = started.containerId;
        log.info({ image: template.image, pulled, containerId: state.containerId }, 'workspace started');
        if (session.projectId) {
          await this.sync.attach(
            id,
            session.projectId,
            session.templateName,
            started.containerId,
            started.holds ?? undefined,
          );
          state.attached = true;
        }
      } else {
        await this.step(timings, id, 'starting', 'restarting the dev server');
        const containerId = state.containerId;
        if (!containerId) throw new Error('session has no workspace to restart');
        // Lift the CPU quota for the cold start (it is applied again once the dev server answers);
        // a quota of every core of the host is no quota.
        await this.runtime
          .updateResources(containerId, { cpuCores: Math.max(1, cpus().length) })
          .catch((error: unknown) =>
            log.warn({ err: error }, 'lifting the CPU quota for the restart failed'),
          );
        await this.runtime.stop(containerId, 5);
        await this.runtime.start(containerId);
      }

      const containerId = state.containerId;
      if (!containerId) throw new Error('session has no workspace');
      await this.step(timings, id, 'installing', 'waiting for the dev server');
      const init = await this.template.initializeWorkspace(containerId, session.templateName, {
        timeoutMs: this.config.runtime.startTimeoutMs,
        onStep: (_step, message) => this.events.buildStep(id, 'installing', { message }),
      });

      if (
        !(await this.sessions.transition(id, [Creating], Running, { buildStep: 'ready', errorMessage: null }))
      ) {
        throw new SupersededError();
      }
      if (this.runtime.kind === 'local') this.localRunning.add(id);
      const ms = Date.now() - startedAt;
      log.info(
        { ms, mode, installed: init.installed, readyAfterMs: init.readyAfterMs, steps: timings.finish() },
        'workspace running',
      );
      this.events.buildStep(id, 'ready', { message: `dev server answered after ${ms} ms` });
      this.events.statusChanged(id, Running, Creating);

      // The hard CPU quota only once the dev server is up: applied during the cold start it makes
      // the start about 3x slower.
      await this.runtime
        .updateResources(containerId, { cpuCores: this.config.resources.cpuCores })
        .catch((error: unknown) => log.warn({ err: error }, 'applying the CPU quota failed'));
    } catch (error) {
      // A failure caused by the session being ended meanwhile (its workspace removed under the
      // start) is not a failed start.
      const moved =
        error instanceof SupersededError ||
        (await this.sessions.findById(id).catch(() => null))?.status !== Creating;
      if (moved) {
        log.info({ mode }, 'start superseded (session moved meanwhile); removing what it created');
        await this.removal.remove(id, state.containerId, { capture: state.attached });
      } else {
        await this.failStart(id, state.containerId, error, log, state.attached);
      }
    } finally {
      this.inFlight.delete(id);
    }
  }

  /**
   * Creates and starts the workspace, with the project's files written before its dev server
   * starts; a host port found taken is swapped for another one. Answers the workspace and the files
   * it holds (null without a project).
   */
  private async createAndStart(
    session: WorkspaceSessionEntity,
    image: string,
    log: Logger,
  ): Promise<{ containerId: string; holds: Manifest | null }> {
    let port = session.port;
    for (let attempt = 0; ; attempt++) {
      if (port === null && this.runtime.publishesHostPorts) throw new Error('session holds no port');
      const spec: ContainerSpec = {
        sessionId: session.id,
        userId: session.userId,
        name: attempt === 0 ? session.containerName : `${session.containerName}-${attempt}`,
        image,
        templateName: session.templateName,
        hostPort: port ?? 0,
        containerPort: DEFAULT_CONTAINER_PORT,
        resources: session.resourceAllocation,
        env: { [PREVIEW_WEB_ORIGINS_ENV]: this.config.webOrigins.join(' ') },
        labels: {},
      };
      let containerId: string | null = null;
      try {
        containerId = (await this.removal.serialized(session.id, () => this.runtime.create(spec))).id;
        const state = this.inFlight.get(session.id);
        if (state) state.containerId = containerId;
        if (!(await this.sessions.patch(session.id, [Creating], { containerId })))
          throw new SupersededError();
        const holds = session.projectId
          ? await this.sync.prepare(session.projectId, session.templateName, containerId)
          : null;
        await this.runtime.start(containerId);
        return { containerId, holds };
      } catch (error) {
        if (!(error instanceof PortUnavailableError) || attempt >= PORT_RETRIES) throw error;
        log.warn({ port, attempt }, 'host port taken by another program; moving the session to another port');
        await this.removal.remove(session.id, containerId, { capture: false });
        port = await this.ports.allocate(async (candidate) => {
          // A proxy-mode URL names the session, not the port: only a direct URL follows the move.
          const previewUrl =
            this.config.preview.mode === 'direct'
              ? { previewUrl: this.previewUrls.of(candidate, session.id, '') }
              : {};
          if (
            !(await this.sessions.patch(session.id, [Creating], {
              port: candidate,
              ...previewUrl,
              containerId: null,
            }))
          ) {
            throw new SupersededError();
          }
          return candidate;
        });
      }
    }
  }

  private async failStart(
    id: string,
    containerId: string | null,
    error: unknown,
    log: Logger,
    attached: boolean,
  ): Promise<void> {
    const message = describeStartFailure(error);
    log.warn({ err: error, reason: message }, 'start failed');
    // Free the host port before the database releases it, so the next session's probe finds it free.
    await this.removal.remove(id, containerId, { capture: attached });
    const won = await this.sessions
      .transition(id, [Creating], Failed, {
        buildStep: 'error',
        errorMessage: message,
        port: null,
        previewUrl: null,
        desiredStatus: Stopped,
      })
      .catch((dbError: unknown) => {
        log.error({ err: dbError }, 'could not record the failed start');
        return false;
      });
    if (won) {
      this.events.buildStep(id, 'error', { message });
      this.events.statusChanged(id, Failed, Creating, message);
    }
  }

  /**
   * Leaves nothing half-made: starts that had not finished end in `error` with their workspaces
   * removed; on the local runtime, running sessions end too (their processes die with us).
   */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    const neverStarted = this.queue.close();
    const interrupted = [...this.inFlight.keys()];
    const reason = 'the backend shut down before the workspace was ready';
    await Promise.allSettled(
      [...neverStarted, ...interrupted].map(async (id) => {
        const won = await this.sessions.transition(id, [Creating], Failed, {
          buildStep: 'error',
          errorMessage: reason,
          port: null,
          previewUrl: null,
          desiredStatus: Stopped,
        });
        const state = this.inFlight.get(id);
        await this.removal.remove(id, state?.containerId ?? null, { capture: state?.attached ?? false });
        if (won) this.events.statusChanged(id, Failed, Creating, reason);
      }),
    );
    // Interrupted jobs lose their next conditional update and remove what they made themselves.
    await this.queue.settle(SHUTDOWN_SETTLE_MS);
    if (this.runtime.kind === 'local') {
      await Promise.allSettled(
        [...this.localRunning].map(async (id) => {
          const session = await this.sessions.findById(id);
          await this.removal.remove(id, session?.containerId ?? null);
          await this.sessions.transition(id, [Running, Creating, Stopping], Stopped, {
            desiredStatus: Stopped,
            port: null,
            previewUrl: null,
            errorMessage: 'the backend running this local workspace shut down',
          });
        }),
      );
    }
    if (neverStarted.length + interrupted.length + this.localRunning.size > 0) {
      this.log.info(
        { neverStarted: neverStarted.length, interrupted: interrupted.length, local: this.localRunning.size },
        'shutdown: cleaned up workspaces of this process',
      );
    }
    this.localRunning.clear();
  }

  /** Records and announces a start-up step; throws {@link SupersededError} if the session moved. */
  private async step(timings: StepTimings, id: string, step: BuildStep, message: string): Promise<void> {
    timings.mark(step);
    if (this.shuttingDown) throw new SupersededError();
    if (!(await this.sessions.patch(id, [Creating], { buildStep: step }))) throw new SupersededError();
    this.events.buildStep(id, step, { message });
  }
}

/** Milliseconds spent in each start-up step, for the logs. */
class StepTimings {
  private readonly durations: Record<string, number> = {};
  private current: { step: string; at: number } | null = null;

  mark(step: string): void {
    const now = Date.now();
    if (this.current)
      this.durations[this.current.step] = (this.durations[this.current.step] ?? 0) + now - this.current.at;
    this.current = { step, at: now };
  }

  finish(): Record<string, number> {
    this.mark('ready');
    return { ...this.durations };
  }
}

/** A message for the session's owner: what failed, without internals they cannot act on. */
function describeStartFailure(error: unknown): string {
  if (error instanceof Error) {
    switch (error.name) {
      case 'RuntimeUnavailableError':
        return `the container engine stopped answering: ${error.message}`;
      case 'ImageUnavailableError':
      case 'WorkspaceInitError':
      case 'RuntimeTimeoutError':
      case 'PortUnavailableError':
      case 'UnknownTemplateError':
        return error.message;
      default:
        return `workspace failed to start: ${error.message}`;
    }
  }
  return `workspace failed to start: ${String(error)}`;
}

import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { type BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { type BuildStep, type ContainerSpec, DEFAULT_TEMPLATE_NAME, WorkspaceStatus } from '@builder/shared';
import type { Logger } from 'pino';
import { AppConfig } from '../../config/app-config';
import { InvalidTokenError } from '../../shared/errors/invalid-token.error';
import { QuotaExceededError } from '../../shared/errors/quota-exceeded.error';
import { ServiceUnavailableError } from '../../shared/errors/service-unavailable.error';
import { WorkspaceConflictError } from '../../shared/errors/workspace-conflict.error';
import { ROOT_LOGGER } from '../../shared/logging/logging.module';
import { DEFAULT_CONTAINER_PORT, PREVIEW_WEB_ORIGINS_ENV } from '../../shared/runtime/dev-server.constants';
import { HttpProbe } from '../../shared/runtime/http-probe.service';
import { PortUnavailableError, RuntimeUnavailableError } from '../../shared/runtime/runtime.errors';
import {
  WORKSPACE_LABELS,
  WORKSPACE_RUNTIME,
  type WorkspaceRuntime,
} from '../../shared/runtime/workspace-runtime.interface';
import { TemplateService } from '../../shared/services/template.service';
import { newPreviewToken, previewOrigin } from '../preview-proxy/preview-host';
import type { Manifest } from '../projects/project-versions.service';
import { ProjectsService } from '../projects/projects.service';
import { leaseName, LeaseService } from './cluster/lease.service';
import { SessionOwnershipService } from './cluster/session-ownership.service';
import type { CreateWorkspaceDto } from './dto/create-workspace.dto';
import type { WorkspaceSessionDto } from './dto/workspace-session.dto';
import type { WorkspaceSessionEntity } from './entities/session.entity';
import { POOL_CPU_SHARES, POOL_USER_ID } from './pool/warm-pool.constants';
import { layOutInRunningDevServer } from './pool/pooled-layout';
import { PortAllocator } from './port-allocator.service';
import { ProjectSyncService } from './project-sync.service';
import { START_QUEUE, type StartQueue } from './start-queue';
import { WorkspaceEventsService } from './workspace-events.service';
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
 * How long a pooled dev server's page may take to show a project's files that replaced the
 * template's, before the session is handed over anyway (the files are in place; only a page the
 * dev server had already built could still be served stale, for the few ms its watcher takes).
 */
const POOL_LAYOUT_CONFIRM_MS = 1_500;

/**
 * Lifecycle of preview sessions: create (quota, port, row; then a queued start that runs the
 * workspace and waits for its dev server), status, list, delete and restart. Every status change
 * is conditional on the previous status; the workspace's runtime and template service do the work.
 */
@Injectable()
export class WorkspaceService implements BeforeApplicationShutdown {
  private readonly log: Logger;
  /**
   * Sessions whose start this process drives right now: their workspace, and whether it holds its
   * project's files yet (before that, a removal has nothing of the user's to capture).
   */
  private readonly inFlight = new Map<string, { containerId: string | null; attached: boolean }>();
  /** Sessions this process brought to `running` on the local runtime (their processes are our children). */
  private readonly localRunning = new Set<string>();
  /** The tail of each session's chain of runtime operations (see {@link serialized}). */
  private readonly runtimeOps = new Map<string, Promise<void>>();
  private shuttingDown = false;
  private lastNameTimestamp = 0;
  /** Told when a create took a pooled workspace, so the pool refills (set by the WarmPoolService). */
  onPoolClaimed: () => void = () => undefined;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly config: AppConfig,
    private readonly sessions: WorkspaceSessionRepository,
    private readonly ports: PortAllocator,
    private readonly events: WorkspaceEventsService,
    private readonly template: TemplateService,
    private readonly probe: HttpProbe,
    private readonly projects: ProjectsService,
    private readonly sync: ProjectSyncService,
    private readonly leases: LeaseService,
    private readonly ownership: SessionOwnershipService,
    @Inject(START_QUEUE) private readonly queue: StartQueue,
    @Inject(WORKSPACE_RUNTIME) private readonly runtime: WorkspaceRuntime,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: 'WorkspaceService' });
    sync.endSessionsOf = (projectId, reason) => this.endProjectSessions(projectId, reason);
    queue.onPositionsChanged = (positions) => {
      for (const [sessionId, queuePosition] of positions) {
        this.emitBuildStatus(sessionId, 'queued', {
          queuePosition,
          message: `waiting for a start slot (#${queuePosition})`,
        });
      }
    };
  }

  // ---------------------------------------------------------------- create

  async create(userId: string, dto: CreateWorkspaceDto): Promise<WorkspaceSessionDto> {
    if (this.shuttingDown || this.ownership.draining)
      throw new ServiceUnavailableError('the backend is shutting down; try again shortly');
    // An existing project keeps the template it was made from.
    const existing = dto.projectId ? await this.projects.findOwned(userId, dto.projectId) : null;
    const templateName = existing?.template_name ?? dto.templateName ?? DEFAULT_TEMPLATE_NAME;
    const template = this.template.templateDefinition(templateName);
    await this.pingRuntime();

    const limit = this.config.sessions.maxPerUser;
    // Cheap early answer; the authoritative check runs again inside the insert's transaction.
    if ((await this.sessions.countActive(userId)) >= limit) {
      throw new QuotaExceededError(limit);
    }

    const projectId = existing?.id ?? (await this.projects.create(userId, undefined, templateName)).id;
    try {
      return await this.createForProject(userId, projectId, templateName, template.image, limit);
    } catch (error) {
      // A project made for this create and never previewed is not kept.
      if (!existing) await this.projects.delete(userId, projectId).catch(() => undefined);
      throw error;
    }
  }

  private async createForProject(
    userId: string,
    projectId: string,
    templateName: string,
    image: string,
    limit: number,
  ): Promise<WorkspaceSessionDto> {
    if (this.poolServes(templateName) && (await this.sync.poolCanServe(projectId, templateName))) {
      const claimed = await this.claimPooled(userId, templateName, limit, projectId);
      if (claimed) return claimed;
    }

    const now = Date.now();
    // The id and token are chosen here so a proxy-mode preview URL can name them.
    const id = randomUUID();
    const containerName = containerNameOf(userId, this.nextTimestamp(), id);
    const previewToken = newPreviewToken();
    const session = await this.reservePort((port) =>
      this.sessions.transaction(async (manager) => {
        // Serializes creates of one user, so two concurrent requests cannot both pass the quota.
        const owner: unknown[] = await manager.query(`SELECT id FROM users WHERE id = $1 FOR UPDATE`, [
          userId,
        ]);
        if (owner.length === 0)
          throw new InvalidTokenError('the account of this access token no longer exists');
        if ((await this.sessions.countActive(userId, manager)) >= limit) throw new QuotaExceededError(limit);
        return this.sessions.insert(manager, {
          ...this.newSessionRow(now, templateName),
          id,
          userId,
          projectId,
          containerName,
          port,
          previewUrl: this.previewUrl(port, id, previewToken),
          resourceAllocation: this.config.resources,
          previewToken,
        });
      }),
    );
    const log = this.log.child({ sessionId: session.id });
    log.info({ userId, projectId, port: session.port, containerName, image }, 'session created');
    this.emitStatus(session.id, Creating, null);

    const position = await this.enqueueStart(session.id, 'create');
    if (position > 0) {
      this.emitBuildStatus(session.id, 'queued', {
        queuePosition: position,
        message: `waiting for a start slot (#${position})`,
      });
      return this.toDto(session, position);
    }
    return this.toDto({ ...session, buildStep: 'creating' }, null);
  }

  // ---------------------------------------------------------------- warm pool

  /** Whether creates of this template may take a pooled workspace (docker and swarm: see WarmPoolService). */
  poolServes(templateName: string): boolean {
    return this.config.pool.size > 0 && this.runtime.kind !== 'local' && templateName === DEFAULT_TEMPLATE_NAME;
  }

  /**
   * Takes a ready pooled workspace for the user, or answers null (pool empty, or the pooled
   * workspace turned out dead: it is ended and the caller falls back to a cold start). The quota is
   * checked under the same user-row lock as a cold create; the row changes owner in one conditional
   * UPDATE with a fresh preview token, so nothing the pool's phase exposed stays valid.
   */
  private async claimPooled(
    userId: string,
    templateName: string,
    limit: number,
    projectId: string,
  ): Promise<WorkspaceSessionDto | null> {
    const previewToken = newPreviewToken();
    const claimedId = await this.sessions.transaction(async (manager) => {
      const owner: unknown[] = await manager.query(`SELECT id FROM users WHERE id = $1 FOR UPDATE`, [userId]);
      if (owner.length === 0)
        throw new InvalidTokenError('the account of this access token no longer exists');
      if ((await this.sessions.countActive(userId, manager)) >= limit) throw new QuotaExceededError(limit);
      const claimed = await this.sessions.claimPooled(manager, POOL_USER_ID, templateName, {
        userId,
        projectId,
        previewToken,
        expiresAt: new Date(Date.now() + this.config.sessions.ttlMinutes * 60_000),
        resourceAllocation: this.config.resources,
      });
      if (!claimed) return null;
      await this.sessions.setPreviewUrl(
        manager,
        claimed.id,
        this.previewUrl(claimed.port, claimed.id, previewToken),
      );
      return claimed.id;
    });
    if (!claimedId) return null;
    this.onPoolClaimed();

    const session = await this.sessions.findById(claimedId);
    const log = this.log.child({ sessionId: claimedId });
    if (!session?.containerId) return null;
    const containerId = session.containerId;
    try {
      const info = await this.runtime.inspect(containerId);
      if (info.state !== 'running') throw new Error(`pooled workspace is ${info.state}`);
      // The project's files replace the template's before `running` is answered, and the dev
      // server's page is seen to change with them, so the first page shows the project.
      const { confirmed, result } = await layOutInRunningDevServer(
        this.probe,
        await this.runtime.address(containerId),
        () => this.sync.attach(claimedId, projectId, templateName, containerId),
        (attached) => attached.changedPaths,
        POOL_LAYOUT_CONFIRM_MS,
      );
      if (!confirmed) {
        log.warn(
          { changed: result.changedPaths },
          'the pooled page did not change with the project files; handing it over anyway',
        );
      }
    } catch (error) {
      log.warn(
        { err: error },
        'pooled workspace is unusable (or the project could not be laid out in it); ending it and starting one cold',
      );
      await this.removeFromRuntime(claimedId, session.containerId, { capture: false });
      await this.sessions.transition(claimedId, [Running], Failed, {
        buildStep: 'error',
        errorMessage: 'the pre-started workspace was lost; a new one was started',
        port: null,
        previewUrl: null,
        desiredStatus: Stopped,
      });
      return null;
    }
    // The user's limits. Not awaited: the engine runs `runc update` (~0.1 s), and until it is done
    // the workspace keeps the pool's limits, which are the same except a lower CPU weight.
    this.runtime
      .updateResources(containerId, {
        cpuCores: this.config.resources.cpuCores,
        cpuShares: this.config.resources.cpuShares,
        memoryBytes: this.config.resources.memoryBytes,
        pidsLimit: this.config.resources.pidsLimit,
      })
      .catch((error: unknown) =>
        log.warn({ err: error }, "applying the user's limits to the pooled workspace failed"),
      );
    log.info({ userId, projectId, port: session.port, containerId }, 'session created from the warm pool');
    // A fresh step history for the gateway (a 'creating' step starts one), ending ready.
    this.emitBuildStatus(claimedId, 'creating', { message: 'assigning a pre-started workspace' });
    this.emitBuildStatus(claimedId, 'ready', {
      message: 'pre-started workspace assigned; dev server running',
    });
    this.emitStatus(claimedId, Running, Creating, 'assigned a pre-started workspace');
    return this.toDto(session, null);
  }

  /**
   * Starts one pooled workspace: a session row owned by the pool's system user, started by the
   * same job as a user's create, but at background priority and a low CPU weight. Answers its id.
   */
  async startPooled(templateName: string = DEFAULT_TEMPLATE_NAME): Promise<string> {
    if (this.shuttingDown || this.ownership.draining) throw new ServiceUnavailableError('the backend is shutting down');
    this.template.templateDefinition(templateName);
    const now = Date.now();
    const id = randomUUID();
    const previewToken = newPreviewToken();
    const session = await this.reservePort((port) =>
      this.sessions.transaction((manager) =>
        this.sessions.insert(manager, {
          ...this.newSessionRow(now, templateName),
          id,
          userId: POOL_USER_ID,
          containerName: containerNameOf('pool', this.nextTimestamp(), id),
          port,
          previewUrl: null,
          resourceAllocation: { ...this.config.resources, cpuShares: POOL_CPU_SHARES },
          previewToken,
        }),
      ),
    );
    await this.enqueueStart(session.id, 'create', 'background');
    return session.id;
  }

  // ---------------------------------------------------------------- read

  async status(userId: string, id: string): Promise<WorkspaceSessionDto> {
    // The polled route: one read, and the activity write throttled (it halved the route's throughput).
    const session = await this.sessions.findOwned(userId, id);
    this.recordActivity(id);
    return this.toDto(session);
  }

  async list(userId: string): Promise<WorkspaceSessionDto[]> {
    return (await this.sessions.listForUser(userId)).map((session) => this.toDto(session));
  }

  /** Records activity on a session (socket heartbeats, subscriptions) for the idle timeout. */
  recordActivity(sessionId: string): void {
    this.sessions.recordActivity(sessionId);
  }

  // ---------------------------------------------------------------- delete

  /**
   * Ends a session: what changed inside its workspace is captured as a version of its project, the
   * workspace and volume are removed, the port released, final status `stopped`. Idempotent. When
   * the files cannot be captured (the store is down) the session stays `stopping` with its
   * workspace kept, and reconciliation finishes it later: nothing is lost.
   */
  async remove(userId: string, id: string, reason = 'deleted by its owner'): Promise<void> {
    const session = await this.sessions.findOwned(userId, id);
    const log = this.log.child({ sessionId: id });
    if (session.status === Stopped) return;

    if (session.status === Creating || session.status === Running) {
      if (await this.sessions.transition(id, [Creating, Running], Stopping, { desiredStatus: Stopped })) {
        this.emitStatus(id, Stopping, session.status, reason);
      }
    }
    // Never started: nothing to stop. A start in progress sees the new status and cleans up after
    // itself. A start queued on another replica finds the session moved when its turn comes.
    if (this.queue.cancel(id)) await this.leases.release(leaseName.start(id)).catch(() => undefined);
    const containerId = (await this.sessions.findById(id))?.containerId ?? session.containerId;
    if (!(await this.removeFromRuntime(id, containerId))) {
      log.warn('the workspace could not be removed yet; reconciliation finishes the session');
      return;
    }

    const previous = (await this.sessions.findById(id))?.status ?? session.status;
    if (
      await this.sessions.transition(id, [Stopping, Failed], Stopped, {
        desiredStatus: Stopped,
        port: null,
        previewUrl: null,
      })
    ) {
      this.localRunning.delete(id);
      log.info({ from: previous, reason }, 'session deleted');
      this.emitStatus(id, Stopped, previous, reason);
    }
  }

  /** Ends every active session of a project (it is being deleted). */
  private async endProjectSessions(projectId: string, reason: string): Promise<void> {
    for (const session of await this.sessions.activeOfProject(projectId)) {
      await this.remove(session.userId, session.id, reason).catch((error: unknown) =>
        this.log.warn(
          { err: error, sessionId: session.id, projectId },
          'ending a session of a deleted project failed',
        ),
      );
    }
  }

  // ---------------------------------------------------------------- restart

  /** Restarts the dev server of a running session (status `creating` until it answers again). */
  async restart(userId: string, id: string): Promise<WorkspaceSessionDto> {
    if (this.shuttingDown || this.ownership.draining)
      throw new ServiceUnavailableError('the backend is shutting down; try again shortly');
    const session = await this.sessions.findOwned(userId, id);
    this.recordActivity(id);
    if (session.status !== Running || !session.containerId) {
      throw new WorkspaceConflictError(
        `workspace is ${session.status}; only a running workspace can be restarted`,
      );
    }
    if (
      !(await this.sessions.transition(id, [Running], Creating, { buildStep: 'queued', errorMessage: null }))
    ) {
      throw new WorkspaceConflictError('workspace changed state meanwhile; reload its status');
    }
    this.emitStatus(id, Creating, Running, 'restart requested');
    const position = await this.enqueueStart(id, 'restart');
    const updated = await this.sessions.findOwned(userId, id);
    return this.toDto(position > 0 ? updated : { ...updated, buildStep: 'starting' }, position || null);
  }

  // ---------------------------------------------------------------- the start job

  /**
   * Queues a session's start here under its start lease, which tells every replica's
   * reconciliation that the session is alive however long it waits (only the lease of a replica
   * that died expires). Answers the queue position.
   */
  private async enqueueStart(
    id: string,
    mode: 'create' | 'restart',
    priority?: 'background',
  ): Promise<number> {
    await this.leases.acquire(leaseName.start(id));
    return this.queue.enqueue(
      id,
      () =>
        this.runStart(id, mode).finally(() =>
          this.leases
            .release(leaseName.start(id))
            .catch((error: unknown) => this.log.warn({ err: error, sessionId: id }, 'releasing a start lease failed')),
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
          this.emitBuildStatus(id, 'pulling', { message }),
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
        onStep: (_step, message) => this.emitBuildStatus(id, 'installing', { message }),
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
      this.emitBuildStatus(id, 'ready', { message: `dev server answered after ${ms} ms` });
      this.emitStatus(id, Running, Creating);

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
        await this.removeFromRuntime(id, state.containerId, { capture: state.attached });
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
        containerId = (await this.serialized(session.id, () => this.runtime.create(spec))).id;
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
        await this.removeFromRuntime(session.id, containerId, { capture: false });
        port = await this.ports.allocate(async (candidate) => {
          // A proxy-mode URL names the session, not the port: only a direct URL follows the move.
          const previewUrl =
            this.config.preview.mode === 'direct'
              ? { previewUrl: this.previewUrl(candidate, session.id, '') }
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
    await this.removeFromRuntime(id, containerId, { capture: attached });
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
      this.emitBuildStatus(id, 'error', { message });
      this.emitStatus(id, Failed, Creating, message);
    }
  }

  // ---------------------------------------------------------------- shutdown

  /**
   * Leaves nothing half-made: starts that had not finished end in `error` with their workspaces
   * removed; on the local runtime, running sessions end too (their processes die with us).
   */
  async beforeApplicationShutdown(): Promise<void> {
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
        await this.removeFromRuntime(id, state?.containerId ?? null, { capture: state?.attached ?? false });
        if (won) this.emitStatus(id, Failed, Creating, reason);
      }),
    );
    // Interrupted jobs lose their next conditional update and remove what they made themselves.
    await this.queue.settle(SHUTDOWN_SETTLE_MS);
    if (this.runtime.kind === 'local') {
      await Promise.allSettled(
        [...this.localRunning].map(async (id) => {
          const session = await this.sessions.findById(id);
          await this.removeFromRuntime(id, session?.containerId ?? null);
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

  // ---------------------------------------------------------------- helpers

  /**
   * Removes whatever the runtime holds for a session (idempotent; never throws). A delete and a
   * superseded start job may both clean up: their removals run one after the other, since the
   * engine refuses a second concurrent removal of the same container.
   */
  private removeFromRuntime(
    sessionId: string,
    containerId: string | null,
    options: { capture: boolean } = { capture: true },
  ): Promise<boolean> {
    return this.serialized(sessionId, () => this.removeNow(sessionId, containerId, options.capture));
  }

  /**
   * Runs runtime operations of one session one after the other (create, remove): a removal never
   * races a create that is still laying out the workspace.
   */
  private serialized<T>(sessionId: string, operation: () => Promise<T>): Promise<T> {
    const previous = this.runtimeOps.get(sessionId) ?? Promise.resolve();
    const result = previous.then(operation, operation);
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.runtimeOps.set(sessionId, settled);
    void settled.then(() => {
      if (this.runtimeOps.get(sessionId) === settled) this.runtimeOps.delete(sessionId);
    });
    return result;
  }

  /** Answers whether the workspace is gone (false: its files could not be captured, or the engine failed). */
  private async removeNow(sessionId: string, containerId: string | null, capture: boolean): Promise<boolean> {
    try {
      if (capture && !(await this.sync.capture(sessionId, containerId))) return false;
      if (containerId) await this.runtime.remove(containerId);
      if (this.runtime.removeBySession) {
        await this.runtime.removeBySession(sessionId);
      } else {
        const leftovers = (await this.runtime.list()).filter(
          (info) => info.labels[WORKSPACE_LABELS.sessionId] === sessionId,
        );
        for (const info of leftovers) await this.runtime.remove(info.id);
      }
      return true;
    } catch (error) {
      this.log.error(
        { err: error, sessionId, containerId },
        'removing the workspace from the runtime failed',
      );
      return false;
    }
  }

  private async pingRuntime(): Promise<void> {
    try {
      await this.runtime.ping();
    } catch (error) {
      if (error instanceof RuntimeUnavailableError) throw error;
      throw new RuntimeUnavailableError(
        `the ${this.runtime.kind} workspace runtime does not answer: ${(error as Error)?.message ?? String(error)}`,
        { cause: error },
      );
    }
  }

  /**
   * Runs `claim` with a free port of PORT_RANGE for the session's row, or with none on a runtime
   * that publishes no host ports (swarm: its previews go through the proxy, and a cluster's
   * sessions are not bounded by one host's port range).
   */
  private reservePort<T>(claim: (port: number | null) => Promise<T>): Promise<T> {
    return this.runtime.publishesHostPorts ? this.ports.allocate(claim) : claim(null);
  }

  /** Records and announces a start-up step; throws {@link SupersededError} if the session moved. */
  private async step(timings: StepTimings, id: string, step: BuildStep, message: string): Promise<void> {
    timings.mark(step);
    if (this.shuttingDown) throw new SupersededError();
    if (!(await this.sessions.patch(id, [Creating], { buildStep: step }))) throw new SupersededError();
    this.emitBuildStatus(id, step, { message });
  }

  private emitBuildStatus(
    sessionId: string,
    step: BuildStep,
    extra: { message?: string; queuePosition?: number },
  ): void {
    this.events.emit('build-status', { sessionId, step, ...extra, at: new Date().toISOString() });
  }

  private emitStatus(
    sessionId: string,
    status: WorkspaceStatus,
    previous: WorkspaceStatus | null,
    reason?: string,
  ): void {
    this.events.emit('status', {
      sessionId,
      status,
      previous,
      ...(reason ? { reason } : {}),
      at: new Date().toISOString(),
    });
  }

  /** What every new session row starts with, a user's or the pool's: queued, due to run, fresh clocks. */
  private newSessionRow(now: number, templateName: string) {
    return {
      status: Creating,
      desiredStatus: Running,
      templateName,
      buildStep: 'queued' as const,
      expiresAt: new Date(now + this.config.sessions.ttlMinutes * 60_000),
      lastActivityAt: new Date(now),
      errorMessage: null,
    };
  }

  /**
   * Direct mode: the dev server's published host port. Proxy mode: the preview proxy on the API's
   * port, under a host name carrying the session's unguessable token (see modules/preview-proxy).
   */
  private previewUrl(port: number | null, id: string, token: string): string {
    if (this.config.preview.mode === 'proxy') {
      return `${previewOrigin(id, token, this.config.preview.domain, this.apiPort())}/`;
    }
    return `http://${this.config.preview.host}:${port}`;
  }

  /** The port the API really listens on (tests listen on port 0), else the configured one. */
  private apiPort(): number {
    const address = this.adapterHost?.httpAdapter?.getHttpServer()?.address?.() as
      { port?: number } | string | null;
    return typeof address === 'object' && address?.port ? address.port : this.config.port;
  }

  /** Milliseconds, strictly increasing within this process, so container names never collide here. */
  private nextTimestamp(): number {
    this.lastNameTimestamp = Math.max(Date.now(), this.lastNameTimestamp + 1);
    return this.lastNameTimestamp;
  }

  toDto(
    session: WorkspaceSessionEntity,
    queuePosition: number | null = this.queue.position(session.id),
  ): WorkspaceSessionDto {
    return {
      id: session.id,
      status: session.status,
      previewUrl: session.previewUrl,
      port: session.port,
      templateName: session.templateName,
      createdAt: session.createdAt.toISOString(),
      expiresAt: session.expiresAt.toISOString(),
      lastActivityAt: session.lastActivityAt.toISOString(),
      resourceAllocation: session.resourceAllocation,
      errorMessage: session.errorMessage,
      buildStep: session.buildStep,
      queuePosition: session.status === Creating ? queuePosition : null,
      projectId: session.projectId,
    };
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

/**
 * A workspace's container name: unique across replicas by the session id in it (two replicas can
 * reach the same millisecond), readable by its owner and time.
 */
function containerNameOf(owner: string, timestamp: number, sessionId: string): string {
  return `workspace-${owner}-${timestamp}-${sessionId.slice(0, 8)}`;
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

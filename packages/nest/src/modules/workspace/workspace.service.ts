import { randomUUID } from 'node:crypto';
import { type BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import { DEFAULT_TEMPLATE_NAME, WorkspaceStatus } from '@builder/shared';
import type { Logger } from 'pino';
import { AppConfig } from '../../config/app-config';
import { InvalidTokenError } from '../../shared/errors/invalid-token.error';
import { QuotaExceededError } from '../../shared/errors/quota-exceeded.error';
import { ServiceUnavailableError } from '../../shared/errors/service-unavailable.error';
import { WorkspaceConflictError } from '../../shared/errors/workspace-conflict.error';
import { ROOT_LOGGER } from '../../shared/logging/logging.module';
import { HttpProbe } from '../../shared/runtime/http-probe.service';
import { RuntimeUnavailableError } from '../../shared/runtime/runtime.errors';
import { WORKSPACE_RUNTIME, type WorkspaceRuntime } from '../../shared/runtime/workspace-runtime.interface';
import { TemplateService } from '../../shared/services/template.service';
import { newPreviewToken } from '../preview-proxy/preview-host';
import { ProjectsService } from '../projects/projects.service';
import { SessionOwnershipService } from './cluster/session-ownership.service';
import type { CreateWorkspaceDto } from './dto/create-workspace.dto';
import type { WorkspaceSessionDto } from './dto/workspace-session.dto';
import type { WorkspaceSessionEntity } from './entities/session.entity';
import { POOL_CPU_SHARES, POOL_USER_ID } from './pool/warm-pool.constants';
import { layOutInRunningDevServer } from './pool/pooled-layout';
import { PortAllocator } from './port-allocator.service';
import { PreviewUrlService } from './preview-url.service';
import { ProjectSyncService } from './project-sync.service';
import { WorkspaceEventsService } from './workspace-events.service';
import { WorkspaceRemovalService } from './workspace-removal.service';
import { WorkspaceSessionRepository } from './workspace-session.repository';
import { WorkspaceStarterService } from './workspace-starter.service';

const { Creating, Running, Stopping, Stopped, Error: Failed } = WorkspaceStatus;

/**
 * How long a pooled dev server's page may take to show a project's files that replaced the
 * template's, before the session is handed over anyway (the files are in place; only a page the
 * dev server had already built could still be served stale, for the few ms its watcher takes).
 */
const POOL_LAYOUT_CONFIRM_MS = 1_500;

/**
 * The session API: create (quota, port, row; a pooled workspace claimed, or a start queued on the
 * {@link WorkspaceStarterService}), status, list, delete and restart. Every status change is
 * conditional on the previous status.
 */
@Injectable()
export class WorkspaceService implements BeforeApplicationShutdown {
  private readonly log: Logger;
  private lastNameTimestamp = 0;
  /** Told when a create took a pooled workspace, so the pool refills (set by the WarmPoolService). */
  onPoolClaimed: () => void = () => undefined;

  constructor(
    private readonly config: AppConfig,
    private readonly sessions: WorkspaceSessionRepository,
    private readonly ports: PortAllocator,
    private readonly events: WorkspaceEventsService,
    private readonly template: TemplateService,
    private readonly probe: HttpProbe,
    private readonly projects: ProjectsService,
    private readonly sync: ProjectSyncService,
    private readonly ownership: SessionOwnershipService,
    private readonly starter: WorkspaceStarterService,
    private readonly removal: WorkspaceRemovalService,
    private readonly previewUrls: PreviewUrlService,
    @Inject(WORKSPACE_RUNTIME) private readonly runtime: WorkspaceRuntime,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: 'WorkspaceService' });
    sync.endSessionsOf = (projectId, reason) => this.endProjectSessions(projectId, reason);
  }

  // ---------------------------------------------------------------- create

  async create(userId: string, dto: CreateWorkspaceDto): Promise<WorkspaceSessionDto> {
    if (this.starter.closing || this.ownership.draining)
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
          previewUrl: this.previewUrls.of(port, id, previewToken),
          resourceAllocation: this.config.resources,
          previewToken,
        });
      }),
    );
    const log = this.log.child({ sessionId: session.id });
    log.info({ userId, projectId, port: session.port, containerName, image }, 'session created');
    this.events.statusChanged(session.id, Creating, null);

    const position = await this.starter.enqueue(session.id, 'create');
    if (position > 0) {
      this.events.buildStep(session.id, 'queued', {
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
    return (
      this.config.pool.size > 0 && this.runtime.kind !== 'local' && templateName === DEFAULT_TEMPLATE_NAME
    );
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
        this.previewUrls.of(claimed.port, claimed.id, previewToken),
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
      await this.removal.remove(claimedId, session.containerId, { capture: false });
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
    this.events.buildStep(claimedId, 'creating', { message: 'assigning a pre-started workspace' });
    this.events.buildStep(claimedId, 'ready', {
      message: 'pre-started workspace assigned; dev server running',
    });
    this.events.statusChanged(claimedId, Running, Creating, 'assigned a pre-started workspace');
    return this.toDto(session, null);
  }

  /**
   * Starts one pooled workspace: a session row owned by the pool's system user, started by the
   * same job as a user's create, but at background priority and a low CPU weight. Answers its id.
   */
  async startPooled(templateName: string = DEFAULT_TEMPLATE_NAME): Promise<string> {
    if (this.starter.closing || this.ownership.draining)
      throw new ServiceUnavailableError('the backend is shutting down');
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
    await this.starter.enqueue(session.id, 'create', 'background');
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
        this.events.statusChanged(id, Stopping, session.status, reason);
      }
    }
    // Never started: nothing to stop. A start in progress sees the new status and cleans up after
    // itself. A start queued on another replica finds the session moved when its turn comes.
    await this.starter.cancel(id);
    const containerId = (await this.sessions.findById(id))?.containerId ?? session.containerId;
    if (!(await this.removal.remove(id, containerId))) {
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
      this.starter.forget(id);
      log.info({ from: previous, reason }, 'session deleted');
      this.events.statusChanged(id, Stopped, previous, reason);
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
    if (this.starter.closing || this.ownership.draining)
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
    this.events.statusChanged(id, Creating, Running, 'restart requested');
    const position = await this.starter.enqueue(id, 'restart');
    const updated = await this.sessions.findOwned(userId, id);
    return this.toDto(position > 0 ? updated : { ...updated, buildStep: 'starting' }, position || null);
  }

  // ---------------------------------------------------------------- shutdown

  /** Leaves nothing half-made: see {@link WorkspaceStarterService.shutdown}. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.starter.shutdown();
  }

  // ---------------------------------------------------------------- helpers

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

  /** Milliseconds, strictly increasing within this process, so container names never collide here. */
  private nextTimestamp(): number {
    this.lastNameTimestamp = Math.max(Date.now(), this.lastNameTimestamp + 1);
    return this.lastNameTimestamp;
  }

  toDto(
    session: WorkspaceSessionEntity,
    queuePosition: number | null = this.starter.position(session.id),
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

/**
 * A workspace's container name: unique across replicas by the session id in it (two replicas can
 * reach the same millisecond), readable by its owner and time.
 */
function containerNameOf(owner: string, timestamp: number, sessionId: string): string {
  return `workspace-${owner}-${timestamp}-${sessionId.slice(0, 8)}`;
}

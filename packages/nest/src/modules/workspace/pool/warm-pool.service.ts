import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DEFAULT_TEMPLATE_NAME, WorkspaceStatus } from '@builder/shared';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import { AppConfig } from '../../../config/app-config';
import { ROOT_LOGGER } from '../../../shared/logging/logging.module';
import {
  WORKSPACE_RUNTIME,
  type WorkspaceRuntime,
} from '../../../shared/runtime/workspace-runtime.interface';
import { leaseName, LeaseService } from '../cluster/lease.service';
import { JobLock } from '../lifecycle/job-lock.service';
import { WorkspaceEventsService } from '../workspace-events.service';
import { WorkspaceService } from '../workspace.service';
import { POOL_USER_ID } from './warm-pool.constants';

/** How often the pool checks its size (refills also follow each claim at once). */
const MAINTAIN_EVERY_MS = 5_000;
/** After a claim, the refill waits this long so the claimed page's first loads get the CPU. */
const REFILL_DELAY_MS = 1_000;
/** Refills pause after this many failed starts in a row (a broken image must not loop hot). */
const FAILURES_BEFORE_PAUSE = 3;
const MAX_PAUSE_MS = 5 * 60_000;

interface PoolRow {
  id: string;
  status: WorkspaceStatus;
  container_id: string | null;
}

/**
 * Keeps WARM_POOL_SIZE workspaces of the default template started and unassigned, so a create
 * answers `running` at once (see WorkspaceService.claimPooled). Pooled workspaces are ordinary
 * session rows owned by the pool's system user: started by the same start job (at background
 * priority), ended and reconciled like any session. This service only decides how many to start,
 * cleans the pool's rows whose workspaces did not survive a crash (at start-up), and ends the
 * unassigned ones on shutdown. A pooled workspace is never reused once assigned: the claim moves
 * its row to the user, and the pool only ever counts rows it still owns.
 *
 * Docker and swarm runtimes (on a swarm the pooled services are placed like any workspace): local
 * workspaces are child processes of the backend, and an idle host dev server costs ~255 MiB for a
 * gain the docker path already shows.
 */
@Injectable()
export class WarmPoolService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log: Logger;
  private timer: NodeJS.Timeout | null = null;
  private refillTimer: NodeJS.Timeout | null = null;
  private maintaining: Promise<void> | null = null;
  private closed = false;
  /** Pool sessions this process started and has not seen end yet. */
  private readonly starting = new Set<string>();
  private consecutiveFailures = 0;
  private pausedUntil = 0;
  private offEvents: () => void = () => undefined;

  constructor(
    private readonly config: AppConfig,
    private readonly workspaces: WorkspaceService,
    private readonly events: WorkspaceEventsService,
    private readonly leases: LeaseService,
    private readonly lock: JobLock,
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(WORKSPACE_RUNTIME) private readonly runtime: WorkspaceRuntime,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: 'WarmPoolService' });
  }

  get enabled(): boolean {
    return this.workspaces.poolServes(DEFAULT_TEMPLATE_NAME);
  }

  onApplicationBootstrap(): void {
    if (!this.enabled) {
      if (this.config.pool.size > 0 && this.runtime.kind === 'local') {
        this.log.info(
          { runtime: this.runtime.kind },
          'warm pool disabled: it serves the docker and swarm runtimes',
        );
      }
      return;
    }
    this.workspaces.onPoolClaimed = () => this.refillSoon();
    this.offEvents = this.events.on('status', (event) => {
      if (!this.starting.has(event.sessionId)) return;
      if (event.status === WorkspaceStatus.Running) {
        this.starting.delete(event.sessionId);
        this.consecutiveFailures = 0;
      } else if (event.status === WorkspaceStatus.Error || event.status === WorkspaceStatus.Stopped) {
        this.starting.delete(event.sessionId);
        this.consecutiveFailures++;
        if (this.consecutiveFailures >= FAILURES_BEFORE_PAUSE) {
          const pause = Math.min(
            MAX_PAUSE_MS,
            10_000 * 2 ** (this.consecutiveFailures - FAILURES_BEFORE_PAUSE),
          );
          this.pausedUntil = Date.now() + pause;
          this.log.warn(
            { failures: this.consecutiveFailures, pauseMs: pause },
            'pool refills keep failing; pausing them',
          );
        }
      }
    });
    // Not awaited: the API serves (cold creates) while the pool cleans up and fills.
    this.maintaining = this.reconcileAtStart()
      .catch((error: unknown) => this.log.error({ err: error }, 'warm pool start-up reconciliation failed'))
      .then(() => this.fill())
      .finally(() => {
        this.maintaining = null;
      });
    this.timer = setInterval(() => this.maintain(), MAINTAIN_EVERY_MS);
    this.timer.unref();
  }

  /** Ends the unassigned pooled workspaces: an idle dev server must not outlive its backend. */
  async beforeApplicationShutdown(): Promise<void> {
    if (!this.enabled || this.closed) return;
    this.closed = true;
    this.offEvents();
    if (this.timer) clearInterval(this.timer);
    if (this.refillTimer) clearTimeout(this.refillTimer);
    await this.maintaining?.catch(() => undefined);
    // The pool is the deployment's: while another replica lives, it keeps serving from it.
    const others = await this.leases.otherReplicas().catch(() => 0);
    if (others > 0) {
      this.log.info({ replicas: others }, 'warm pool left to the other replicas');
      return;
    }
    // Starts still in flight are ended by the start job's own shutdown (WorkspaceStarterService).
    const rows = await this.poolRows([WorkspaceStatus.Running]);
    await Promise.allSettled(rows.map((row) => this.retire(row, 'the backend shut down')));
    if (rows.length > 0) this.log.info({ ended: rows.length }, 'warm pool drained');
  }

  /** Active pooled sessions of the default template, per the database. */
  async size(): Promise<{ running: number; creating: number }> {
    const rows: Array<{ status: WorkspaceStatus; n: string }> = await this.dataSource.query(
      `SELECT status, count(*) AS n FROM workspace_sessions
        WHERE user_id = $1 AND template_name = $2 AND status IN ('creating', 'running') GROUP BY status`,
      [POOL_USER_ID, DEFAULT_TEMPLATE_NAME],
    );
    const count = (status: WorkspaceStatus) => Number(rows.find((row) => row.status === status)?.n ?? 0);
    return { running: count(WorkspaceStatus.Running), creating: count(WorkspaceStatus.Creating) };
  }

  private refillSoon(): void {
    if (this.closed || this.refillTimer) return;
    this.refillTimer = setTimeout(() => {
      this.refillTimer = null;
      this.maintain();
    }, REFILL_DELAY_MS);
    this.refillTimer.unref();
  }

  /** Single-flight: one fill at a time in this process. */
  private maintain(): void {
    if (this.closed || this.maintaining) return;
    this.maintaining = this.fill()
      .catch((error: unknown) => this.log.warn({ err: error }, 'warm pool refill failed'))
      .finally(() => {
        this.maintaining = null;
      });
  }

  /**
   * Starts what the deployment's pool lacks. Counted and started under one advisory lock across
   * replicas: the rows a fill inserts are seen by the next, so the pool is WARM_POOL_SIZE for the
   * deployment, not per replica.
   */
  private async fill(): Promise<void> {
    if (this.closed || Date.now() < this.pausedUntil) return;
    await this.lock.runExclusive('warm-pool-fill', () => this.fillLocked());
  }

  private async fillLocked(): Promise<void> {
    if (this.closed) return;
    const { running, creating } = await this.size();
    const missing = this.config.pool.size - running - creating;
    for (let i = 0; i < missing && !this.closed; i++) {
      const id = await this.workspaces.startPooled(DEFAULT_TEMPLATE_NAME);
      this.starting.add(id);
      this.log.info({ sessionId: id }, 'warm pool: starting a workspace');
    }
  }

  /**
   * After a crash or restart: pooled rows in `creating` without a live start lease or `stopping`
   * have nobody driving them, and `running` ones whose container is gone or stopped
   * are dead. All of them are ended; the fill that follows replaces them. Live ones stay in the pool.
   */
  private async reconcileAtStart(): Promise<void> {
    const rows = await this.poolRows([
      WorkspaceStatus.Creating,
      WorkspaceStatus.Running,
      WorkspaceStatus.Stopping,
    ]);
    // Another live replica's pooled starts are its own, however long they queue.
    const starting = await this.leases.live(rows.map((row) => leaseName.start(row.id)));
    let ended = 0;
    for (const row of rows) {
      if (row.status === WorkspaceStatus.Creating && starting.has(leaseName.start(row.id))) continue;
      if (row.status === WorkspaceStatus.Running && row.container_id) {
        const info = await this.runtime.inspect(row.container_id).catch(() => null);
        if (info?.state === 'running') continue;
      }
      await this.retire(row, 'pooled workspace did not survive a restart of the backend');
      ended++;
    }
    if (rows.length > 0) this.log.info({ found: rows.length, ended }, 'warm pool reconciled at start-up');
  }

  private async poolRows(statuses: WorkspaceStatus[]): Promise<PoolRow[]> {
    return this.dataSource.query(
      `SELECT id, status, container_id FROM workspace_sessions
        WHERE user_id = $1 AND status = ANY($2::workspace_status[])`,
      [POOL_USER_ID, statuses],
    );
  }

  /**
   * Ends one pooled session, only while the pool still owns it: the conditional UPDATE and a
   * claim's exclude each other, so an assigned workspace is never touched here.
   */
  private async retire(row: PoolRow, reason: string): Promise<void> {
    const [taken]: [Array<{ id: string }>, number] = await this.dataSource.query(
      `UPDATE workspace_sessions SET status = 'stopping', desired_status = 'stopped', updated_at = now()
        WHERE id = $1 AND user_id = $2 AND status = $3 RETURNING id`,
      [row.id, POOL_USER_ID, row.status],
    );
    if (taken.length === 0) return;
    try {
      if (row.container_id) await this.runtime.remove(row.container_id);
      await this.runtime.removeBySession?.(row.id);
    } catch (error) {
      this.log.warn({ err: error, sessionId: row.id }, 'removing a pooled workspace failed');
    }
    await this.dataSource.query(
      `UPDATE workspace_sessions
          SET status = 'stopped', port = NULL, preview_url = NULL, error_message = $3, updated_at = now()
        WHERE id = $1 AND user_id = $2 AND status = 'stopping'`,
      [row.id, POOL_USER_ID, reason],
    );
    this.events.statusChanged(row.id, WorkspaceStatus.Stopped, row.status, reason);
  }
}

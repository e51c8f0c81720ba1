import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { InjectDataSource } from '@nestjs/typeorm';
import { ACTIVE_WORKSPACE_STATUSES, type WorkspaceStatus } from '@builder/shared';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import { AppConfig } from '../../../config/app-config';
import { ROOT_LOGGER } from '../../../shared/logging/logging.module';
import {
  WORKSPACE_LABELS,
  WORKSPACE_RUNTIME,
  type WorkspaceRuntime,
} from '../../../shared/runtime/workspace-runtime.interface';
import { MetricsService } from '../../observability/metrics.service';
import { leaseName, LeaseService } from '../cluster/lease.service';
import { START_QUEUE, type StartQueue } from '../start-queue';
import { JobLock } from './job-lock.service';
import { SessionCleanupService } from './session-cleanup.service';

const ACTIVE: ReadonlySet<string> = new Set<string>(ACTIVE_WORKSPACE_STATUSES);

/** What one reconciliation did, by action (also counted in `builder_reconcile_actions_total`). */
export type ReconcileReport = Record<string, number>;

/**
 * Brings the database and the runtime back into agreement, at start-up and every
 * RECONCILE_INTERVAL_MS, once across backend processes:
 * - workspaces (containers, volumes) of this deployment whose session is not active, or unknown,
 *   are removed: what a crash or a lost race left behind;
 * - running sessions whose workspace is gone end `error` ("workspace disappeared"), port released;
 * - sessions `creating` without progress for STUCK_CREATING_MS whose start lease no live replica
 *   holds (their backend died mid-start) end `error` with what they created removed; sessions `stopping` for STUCK_STOPPING_MS are finished.
 * Workspaces of other deployments sharing the engine (another database) are never touched: they
 * carry another deployment label, or none.
 */
@Injectable()
export class ReconcilerService implements OnApplicationBootstrap {
  private readonly log: Logger;

  constructor(
    private readonly config: AppConfig,
    private readonly cleanup: SessionCleanupService,
    private readonly lock: JobLock,
    private readonly leases: LeaseService,
    private readonly metrics: MetricsService,
    private readonly scheduler: SchedulerRegistry,
    @InjectDataSource() private readonly db: DataSource,
    @Inject(START_QUEUE) private readonly queue: StartQueue,
    @Inject(WORKSPACE_RUNTIME) private readonly runtime: WorkspaceRuntime,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: 'Reconciler' });
  }

  onApplicationBootstrap(): void {
    // At start-up without delaying it: the API answers while leftovers of a crash are cleared.
    void this.run();
    const timer = setInterval(() => void this.run(), this.config.lifecycle.reconcileIntervalMs);
    this.scheduler.addInterval('reconcile', timer);
  }

  /** One reconciliation (null when another process or run holds it, or it failed). Never throws. */
  async run(): Promise<ReconcileReport | null> {
    let report: ReconcileReport | null = null;
    try {
      await this.lock.runExclusive('reconcile', async () => {
        report = await this.reconcile();
      });
    } catch (error) {
      this.log.warn({ err: error }, 'reconciliation failed; the next run retries');
    }
    return report;
  }

  private async reconcile(): Promise<ReconcileReport> {
    const report: ReconcileReport = {};
    const count = (action: string): void => {
      report[action] = (report[action] ?? 0) + 1;
      this.metrics.reconcileActions.inc({ action });
    };

    await this.finishStuck(count);

    // Listed before the sessions are read: a workspace created after this list is not judged now.
    const listedAt = new Date();
    const containers = await this.runtime.list();
    const volumes = this.runtime.listVolumes ? await this.runtime.listVolumes() : [];
    const sessionIds = new Set<string>();
    for (const labels of [...containers.map((c) => c.labels), ...volumes.map((v) => v.labels)]) {
      const id = labels[WORKSPACE_LABELS.sessionId];
      if (id && isUuid(id)) sessionIds.add(id);
    }
    const statusOf = await this.statuses([...sessionIds]);
    const ours = (labels: Record<string, string>): boolean =>
      labels[WORKSPACE_LABELS.deployment] === this.config.lifecycle.deploymentId;

    // Orphans: workspaces whose session is over, or which no session of ours knows.
    const orphanSessions = new Map<string, string | null>();
    for (const container of containers) {
      const id = container.labels[WORKSPACE_LABELS.sessionId];
      if (!id) continue;
      const status = statusOf.get(id);
      if (status === undefined ? ours(container.labels) : !ACTIVE.has(status)) {
        this.log.warn(
          { sessionId: id, containerId: container.id, status: status ?? 'unknown' },
          'removing an orphan workspace',
        );
        if (await this.cleanup.removeFromRuntime(id, container.id)) count('orphan-container');
        orphanSessions.set(id, container.id);
      }
    }
    for (const volume of volumes) {
      const id = volume.labels[WORKSPACE_LABELS.sessionId];
      if (
        !id ||
        orphanSessions.has(id) ||
        containers.some((c) => c.labels[WORKSPACE_LABELS.sessionId] === id)
      )
        continue;
      const status = statusOf.get(id);
      if (status === undefined ? ours(volume.labels) : !ACTIVE.has(status)) {
        this.log.warn({ sessionId: id, volume: volume.name }, 'removing an orphan volume');
        if (await this.cleanup.removeFromRuntime(id, null)) count('orphan-volume');
      }
    }

    // Running sessions whose workspace is gone.
    const present = new Set(containers.map((c) => c.id));
    const running: Array<{ id: string; container_id: string | null }> = await this.db.query(
      `SELECT id, container_id FROM workspace_sessions WHERE status = 'running' AND updated_at < $1`,
      // Sessions that changed since the list was taken are judged next time.
      [listedAt],
    );
    for (const row of running) {
      if (row.container_id && present.has(row.container_id)) continue;
      if (await this.cleanup.end(row.id, 'error', 'workspace disappeared: its container no longer exists'))
        count('disappeared');
    }

    if (Object.keys(report).length > 0)
      this.log.info({ report }, 'reconciliation corrected the runtime and the database');
    return report;
  }

  /** Sessions stuck in `creating` or `stopping` past their bound (their backend died, or the engine was down). */
  private async finishStuck(count: (action: string) => void): Promise<void> {
    const { stuckCreatingMs, stuckStoppingMs } = this.config.lifecycle;
    const creating: Array<{ id: string }> = await this.db.query(
      `SELECT id FROM workspace_sessions WHERE status = 'creating' AND updated_at <= now() - ($1::int * interval '1 millisecond')`,
      [stuckCreatingMs],
    );
    // Queued or starting on a live replica (this one or another: its start lease is renewed):
    // alive, just slow. Only a start whose replica died is stuck.
    const starting = await this.leases.live(creating.map(({ id }) => leaseName.start(id)));
    for (const { id } of creating) {
      if (this.queue.position(id) !== null || this.queue.isRunning(id)) continue;
      if (starting.has(leaseName.start(id))) continue;
      const reason = `the workspace did not finish starting within ${Math.round(stuckCreatingMs / 1000)} s (its backend may have stopped); start a new session`;
      if (await this.cleanup.end(id, 'error', reason)) count('stuck-creating');
    }
    const stopping: Array<{ id: string }> = await this.db.query(
      `SELECT id FROM workspace_sessions WHERE status = 'stopping' AND updated_at <= now() - ($1::int * interval '1 millisecond')`,
      [stuckStoppingMs],
    );
    for (const { id } of stopping) {
      if (await this.cleanup.finish(id, 'stopped after its clean-up was interrupted'))
        count('stuck-stopping');
    }
  }

  private async statuses(ids: string[]): Promise<Map<string, WorkspaceStatus>> {
    if (ids.length === 0) return new Map();
    const rows: Array<{ id: string; status: WorkspaceStatus }> = await this.db.query(
      `SELECT id, status FROM workspace_sessions WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    return new Map(rows.map((row) => [row.id, row.status]));
  }
}

function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}

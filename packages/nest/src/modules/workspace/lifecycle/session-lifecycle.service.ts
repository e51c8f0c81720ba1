import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import { AppConfig } from '../../../config/app-config';
import { ROOT_LOGGER } from '../../../shared/logging/logging.module';
import { MetricsService } from '../../observability/metrics.service';
import { POOL_USER_ID } from '../pool/warm-pool.constants';
import { JobLock } from './job-lock.service';
import { SessionCleanupService } from './session-cleanup.service';

/** Sessions ended per run at most; the rest wait for the next run. */
const BATCH = 50;

/**
 * The expiry and idle job, every LIFECYCLE_INTERVAL_MS, once across backend processes: running
 * sessions past `expires_at` end `stopped` with reason "expired"; running sessions without activity
 * (API calls, socket heartbeats and subscriptions, preview traffic) for IDLE_TIMEOUT end `stopped`
 * with reason "idle". Warm-pool sessions have no owner to be active and are left to the pool.
 */
@Injectable()
export class SessionLifecycleService implements OnApplicationBootstrap {
  private readonly log: Logger;

  constructor(
    private readonly config: AppConfig,
    private readonly cleanup: SessionCleanupService,
    private readonly lock: JobLock,
    private readonly metrics: MetricsService,
    private readonly scheduler: SchedulerRegistry,
    @InjectDataSource() private readonly db: DataSource,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: 'SessionLifecycle' });
  }

  onApplicationBootstrap(): void {
    const timer = setInterval(() => void this.run(), this.config.lifecycle.intervalMs);
    this.scheduler.addInterval('session-lifecycle', timer);
  }

  /** One run of the job (skipped while another process or run holds it). Never throws. */
  async run(): Promise<void> {
    try {
      await this.lock.runExclusive('session-lifecycle', () => this.endExpiredAndIdle());
    } catch (error) {
      this.log.error({ err: error }, 'expiry and idle job failed');
    }
  }

  private async endExpiredAndIdle(): Promise<void> {
    const ttl = formatMinutes(this.config.sessions.ttlMinutes);
    const idle = formatMinutes(this.config.sessions.idleTimeoutMinutes);
    const expired: Array<{ id: string }> = await this.db.query(
      `SELECT id FROM workspace_sessions WHERE status = 'running' AND expires_at <= now() ORDER BY expires_at LIMIT $1`,
      [BATCH],
    );
    for (const { id } of expired) {
      if (await this.cleanup.end(id, 'stopped', `expired: the session reached its lifetime of ${ttl}`)) {
        this.metrics.reconcileActions.inc({ action: 'expired' });
      }
    }
    const idleMs = Math.round(this.config.sessions.idleTimeoutMinutes * 60_000);
    const idleRows: Array<{ id: string }> = await this.db.query(
      `SELECT id FROM workspace_sessions
        WHERE status = 'running' AND user_id <> $1 AND last_activity_at <= now() - ($2::int * interval '1 millisecond')
        ORDER BY last_activity_at LIMIT $3`,
      [POOL_USER_ID, idleMs, BATCH],
    );
    for (const { id } of idleRows) {
      if (await this.cleanup.end(id, 'stopped', `idle: no activity on the session for ${idle}`)) {
        this.metrics.reconcileActions.inc({ action: 'idle' });
      }
    }
    if (expired.length + idleRows.length > 0) {
      this.log.info({ expired: expired.length, idle: idleRows.length }, 'ended expired and idle sessions');
    }
  }
}

function formatMinutes(minutes: number): string {
  if (minutes >= 1 && Number.isInteger(minutes)) return `${minutes} min`;
  return `${Math.round(minutes * 60)} s`;
}

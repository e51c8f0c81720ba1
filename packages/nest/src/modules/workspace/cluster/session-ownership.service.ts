import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { WorkspaceStatus } from '@builder/shared';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import { AppConfig } from '../../../config/app-config';
import { ROOT_LOGGER } from '../../../shared/logging/logging.module';
import { HmrRelayService } from '../hmr/hmr-relay.service';
import { WorkspaceLogsService } from '../logs/workspace-logs.service';
import { WorkspaceEventsService } from '../workspace-events.service';
import { leaseName, LeaseService } from './lease.service';
import { SessionChangesService } from './session-changes.service';

/** Unheld running sessions taken per scan at most; the rest wait for the next one. */
const SCAN_BATCH = 100;

/**
 * Each running session's dev-server work (its HMR relay and log follower here; its health checks
 * in the health monitor, which checks the sessions this replica holds) runs on exactly one replica:
 * the one holding the session's lease. The replica that brings a session to `running` takes it;
 * every LEASE_RENEW_MS each replica takes running sessions whose lease is missing or expired (their
 * holder died or let go), so a dead holder is replaced within LEASE_TTL_MS + LEASE_RENEW_MS. When a
 * session stops (heard from any replica through the database), its holder closes the work and
 * releases the lease. Events of the work reach sockets on every replica through the Socket.IO
 * adapter.
 */
@Injectable()
export class SessionOwnershipService
  implements OnApplicationBootstrap, BeforeApplicationShutdown, OnModuleDestroy
{
  private readonly log: Logger;
  /** Sessions whose work runs here. */
  private readonly owned = new Set<string>();
  private readonly offs: Array<() => void> = [];
  private timer: NodeJS.Timeout | null = null;
  private scanning: Promise<void> | null = null;
  private drainingNow = false;

  constructor(
    private readonly config: AppConfig,
    private readonly leases: LeaseService,
    private readonly changes: SessionChangesService,
    private readonly events: WorkspaceEventsService,
    private readonly relay: HmrRelayService,
    private readonly logs: WorkspaceLogsService,
    @InjectDataSource() private readonly db: DataSource,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: 'SessionOwnership', replica: leases.replicaId });
  }

  onApplicationBootstrap(): void {
    this.offs.push(
      // Our own start finished: take the work at once rather than at the next scan.
      this.events.on('status', (event) => {
        if (event.status === WorkspaceStatus.Running) void this.claim(event.sessionId);
      }),
      this.changes.onStatus((change) => {
        if (change.status !== WorkspaceStatus.Running) void this.drop(change.sessionId);
      }),
      this.changes.onLeasesReleased(() => void this.scan()),
      this.changes.onReconnect(() => void this.scan()),
      this.leases.onLost((names) => {
        for (const name of names) {
          const sessionId = name.startsWith('session:') ? name.slice('session:'.length) : null;
          if (sessionId && this.owned.delete(sessionId)) this.stopWork(sessionId);
        }
      }),
    );
    void this.scan();
    this.timer = setInterval(() => void this.scan(), this.config.cluster.leaseRenewMs);
    this.timer.unref();
  }

  /** This replica is stopping: it takes no new work (creates, starts, leases) and says so to probes. */
  get draining(): boolean {
    return this.drainingNow;
  }

  /** Whether this replica runs the session's relay, log follower and health checks. */
  owns(sessionId: string): boolean {
    return this.owned.has(sessionId);
  }

  /** Sessions whose work runs here. */
  ownedSessions(): string[] {
    return [...this.owned];
  }

  /**
   * Stops taking work and hands over what this replica holds: relays and followers closed, leases
   * released, and the other replicas told to take them now. Idempotent.
   */
  async drain(): Promise<void> {
    if (this.drainingNow) return;
    this.drainingNow = true;
    if (this.timer) clearInterval(this.timer);
    await this.scanning?.catch(() => undefined);
    for (const sessionId of [...this.owned]) this.stopWork(sessionId);
    const handedOver = this.owned.size;
    this.owned.clear();
    await this.leases.releaseAll();
    await this.changes
      .announceLeasesReleased()
      .catch((error: unknown) => this.log.warn({ err: error }, 'announcing the released leases failed'));
    if (handedOver > 0) this.log.info({ sessions: handedOver }, 'handed the sessions over to other replicas');
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.drain();
  }

  onModuleDestroy(): void {
    for (const off of this.offs.splice(0)) off();
    if (this.timer) clearInterval(this.timer);
  }

  /** Takes the session's lease if free and starts its work here. Never rejects. */
  private async claim(sessionId: string, containerId?: string): Promise<void> {
    if (this.drainingNow || this.owned.has(sessionId)) return;
    try {
      if (!(await this.leases.acquire(leaseName.session(sessionId)))) return;
      const container =
        containerId ??
        (
          (await this.db.query(
            `SELECT container_id FROM workspace_sessions WHERE id = $1 AND status = 'running'`,
            [sessionId],
          )) as Array<{ container_id: string | null }>
        )[0]?.container_id;
      if (!container || this.drainingNow) {
        await this.leases.release(leaseName.session(sessionId));
        return;
      }
      this.owned.add(sessionId);
      await Promise.all([this.relay.open(sessionId, container, true), this.logs.follow(sessionId)]);
    } catch (error) {
      this.log.warn({ err: error, sessionId }, 'taking a session over failed; the next scan retries');
    }
  }

  /** The session is no longer running: its work stops and its lease goes. */
  private async drop(sessionId: string): Promise<void> {
    if (!this.owned.delete(sessionId)) return;
    this.stopWork(sessionId);
    await this.leases
      .release(leaseName.session(sessionId))
      .catch((error: unknown) => this.log.warn({ err: error, sessionId }, 'releasing a lease failed'));
  }

  private stopWork(sessionId: string): void {
    this.relay.close(sessionId);
    this.logs.close(sessionId);
  }

  /** Takes running sessions nobody holds, and lets go of held ones that stopped meanwhile. */
  private scan(): Promise<void> {
    if (this.drainingNow) return Promise.resolve();
    this.scanning ??= this.scanNow()
      .catch((error: unknown) => this.log.warn({ err: error }, 'the ownership scan failed; retrying'))
      .finally(() => {
        this.scanning = null;
      });
    return this.scanning;
  }

  private async scanNow(): Promise<void> {
    const orphans: Array<{ id: string; container_id: string }> = await this.db.query(
      `SELECT s.id, s.container_id FROM workspace_sessions s
         LEFT JOIN workspace_leases l ON l.name = 'session:' || s.id::text AND l.expires_at > now()
        WHERE s.status = 'running' AND s.container_id IS NOT NULL AND l.name IS NULL
        LIMIT $1`,
      [SCAN_BATCH],
    );
    for (const row of orphans) await this.claim(row.id, row.container_id);
    if (this.owned.size === 0) return;
    const stillRunning: Array<{ id: string }> = await this.db.query(
      `SELECT id FROM workspace_sessions WHERE id = ANY($1::uuid[]) AND status = 'running'`,
      [[...this.owned]],
    );
    const running = new Set(stillRunning.map((row) => row.id));
    for (const sessionId of [...this.owned]) if (!running.has(sessionId)) await this.drop(sessionId);
  }
}

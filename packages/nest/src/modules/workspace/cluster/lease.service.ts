import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import { AppConfig } from '../../../config/app-config';
import { ROOT_LOGGER } from '../../../shared/logging/logging.module';

/** Lease names: what one replica of several holds. */
export const leaseName = {
  /** A running session's HMR relay, log follower and health checks. */
  session: (sessionId: string) => `session:${sessionId}`,
  /** A start queued or running in the holder's start queue: not stuck, whatever its age. */
  start: (sessionId: string) => `start:${sessionId}`,
  /** The replica itself is alive. */
  replica: (replicaId: string) => `replica:${replicaId}`,
};

/**
 * Leases in PostgreSQL (`workspace_leases`): a row names the work, its owner (this replica's id)
 * and when it expires. The holder renews all of its leases in one UPDATE every LEASE_RENEW_MS; a
 * lease not renewed for LEASE_TTL_MS may be taken by any replica with one conditional upsert. Time
 * is the database's (`now()`), so the replicas' clocks do not matter. A lease this replica finds it
 * no longer holds at a renewal (it stalled past the TTL and another took it) is reported to
 * {@link onLost} listeners, which stop the work.
 */
@Injectable()
export class LeaseService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  readonly replicaId: string;
  private readonly log: Logger;
  private readonly held = new Set<string>();
  private readonly lostListeners = new Set<(names: string[]) => void>();
  private timer: NodeJS.Timeout | null = null;
  private renewing: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly config: AppConfig,
    @InjectDataSource() private readonly db: DataSource,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.replicaId = config.cluster.replicaId;
    this.log = logger.child({ context: 'Leases', replica: this.replicaId });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.acquire(leaseName.replica(this.replicaId));
    this.timer = setInterval(() => void this.renew(), this.config.cluster.leaseRenewMs);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.releaseAll();
  }

  /** Whether `name` is held by this replica (per its last renewal or acquisition). */
  holds(name: string): boolean {
    return this.held.has(name);
  }

  /** Takes `name` if it is free, expired or already ours; answers whether this replica holds it now. */
  async acquire(name: string): Promise<boolean> {
    if (this.closed) return false;
    const rows: Array<{ name: string }> = await this.db.query(
      `INSERT INTO workspace_leases (name, owner, expires_at)
         VALUES ($1, $2, now() + ($3::int * interval '1 millisecond'))
       ON CONFLICT (name) DO UPDATE
         SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at,
             acquired_at = CASE WHEN workspace_leases.owner = EXCLUDED.owner
                                THEN workspace_leases.acquired_at ELSE now() END
         WHERE workspace_leases.owner = EXCLUDED.owner OR workspace_leases.expires_at <= now()
       RETURNING name`,
      [name, this.replicaId, this.config.cluster.leaseTtlMs],
    );
    if (rows.length === 0) return false;
    this.held.add(name);
    return true;
  }

  /** Gives `name` up at once (if this replica holds it), so another replica may take it without waiting. */
  async release(name: string): Promise<void> {
    this.held.delete(name);
    await this.db.query(`DELETE FROM workspace_leases WHERE name = $1 AND owner = $2`, [
      name,
      this.replicaId,
    ]);
  }

  /** Gives every lease of this replica up and takes no more (shutdown, drain). */
  async releaseAll(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.closed = true;
    this.held.clear();
    await this.renewing?.catch(() => undefined);
    await this.db
      .query(`DELETE FROM workspace_leases WHERE owner = $1`, [this.replicaId])
      .catch((error: unknown) => this.log.warn({ err: error }, 'releasing the leases failed; they expire'));
  }

  /** Which of `names` some replica holds right now (unexpired). */
  async live(names: string[]): Promise<Set<string>> {
    if (names.length === 0) return new Set();
    const rows: Array<{ name: string }> = await this.db.query(
      `SELECT name FROM workspace_leases WHERE name = ANY($1::text[]) AND expires_at > now()`,
      [names],
    );
    return new Set(rows.map((row) => row.name));
  }

  /** How many other replicas of this database are alive. */
  async otherReplicas(): Promise<number> {
    const rows: Array<{ n: string }> = await this.db.query(
      `SELECT count(*) AS n FROM workspace_leases
        WHERE name LIKE 'replica:%' AND owner <> $1 AND expires_at > now()`,
      [this.replicaId],
    );
    return Number(rows[0]?.n ?? 0);
  }

  /** Hears the names of leases lost at a renewal; answers the function that stops listening. */
  onLost(listener: (names: string[]) => void): () => void {
    this.lostListeners.add(listener);
    return () => {
      this.lostListeners.delete(listener);
    };
  }

  /** Extends every lease of this replica; reports those it no longer holds. Never throws. */
  renew(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.renewing ??= this.renewNow()
      .catch((error: unknown) => this.log.warn({ err: error }, 'renewing the leases failed; retrying'))
      .finally(() => {
        this.renewing = null;
      });
    return this.renewing;
  }

  private async renewNow(): Promise<void> {
    const expected = new Set(this.held);
    const [rows]: [Array<{ name: string }>, number] = await this.db.query(
      `UPDATE workspace_leases SET expires_at = now() + ($2::int * interval '1 millisecond')
        WHERE owner = $1 AND expires_at > now() RETURNING name`,
      [this.replicaId, this.config.cluster.leaseTtlMs],
    );
    if (this.closed) return;
    const kept = new Set(rows.map((row) => row.name));
    const lost = [...expected].filter((name) => !kept.has(name) && this.held.has(name));
    for (const name of lost) this.held.delete(name);
    // Our presence lease lapsed (a long stall): take it again, we are alive.
    if (!kept.has(leaseName.replica(this.replicaId))) await this.acquire(leaseName.replica(this.replicaId));
    if (lost.length === 0) return;
    this.log.warn({ lost }, 'leases expired before they were renewed; their work stops here');
    for (const listener of this.lostListeners) listener(lost);
  }
}

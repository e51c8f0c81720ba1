import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { WorkspaceStatus } from '@builder/shared';
import { Client, type Notification } from 'pg';
import type { Logger } from 'pino';
import { AppConfig } from '../../../config/app-config';
import { ROOT_LOGGER } from '../../../shared/logging/logging.module';
import { WorkspaceEventsService } from '../workspace-events.service';

/** Sent by the trigger of migration 1733400000000 at the commit of every session status change. */
const STATUS_CHANNEL = 'workspace_session_status';
/** Sent by a replica that gave its leases up (draining), so the others take them without waiting. */
export const LEASES_RELEASED_CHANNEL = 'workspace_leases_released';
const RECONNECT_MS = 1_000;

export interface SessionStatusChange {
  sessionId: string;
  status: WorkspaceStatus;
}

/**
 * Every session status change, whichever replica (or SQL) made it: this process's own status
 * events at once, and the database's notifications of every change through a dedicated LISTEN
 * connection (PostgreSQL server only; the embedded database has one process, whose own events are
 * all there is). A change may be heard twice (ours, then its notification): listeners are
 * idempotent. While the LISTEN connection is down it is reopened every second, and listeners of
 * {@link onReconnect} re-read what they cache, since notifications sent meanwhile are lost.
 */
@Injectable()
export class SessionChangesService implements OnModuleInit, OnModuleDestroy {
  private readonly log: Logger;
  private readonly statusListeners = new Set<(change: SessionStatusChange) => void>();
  private readonly releasedListeners = new Set<() => void>();
  private readonly reconnectListeners = new Set<() => void>();
  private client: Client | null = null;
  private retry: NodeJS.Timeout | null = null;
  private offLocal: () => void = () => undefined;
  private closed = false;

  constructor(
    private readonly config: AppConfig,
    private readonly events: WorkspaceEventsService,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: 'SessionChanges' });
  }

  async onModuleInit(): Promise<void> {
    this.offLocal = this.events.on('status', (event) =>
      this.publish({ sessionId: event.sessionId, status: event.status }),
    );
    if (this.config.database.kind === 'postgres') await this.listen(false);
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    this.offLocal();
    if (this.retry) clearTimeout(this.retry);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  /** Hears every status change of every session; answers the function that stops listening. */
  onStatus(listener: (change: SessionStatusChange) => void): () => void {
    return subscribe(this.statusListeners, listener);
  }

  /** Hears that another replica released leases (it is draining). */
  onLeasesReleased(listener: () => void): () => void {
    return subscribe(this.releasedListeners, listener);
  }

  /** Hears that the LISTEN connection came back after an outage (changes may have been missed). */
  onReconnect(listener: () => void): () => void {
    return subscribe(this.reconnectListeners, listener);
  }

  /** Tells every replica that leases were released (no-op on the embedded database). */
  async announceLeasesReleased(): Promise<void> {
    await this.client?.query(`SELECT pg_notify($1, '')`, [LEASES_RELEASED_CHANNEL]);
  }

  private publish(change: SessionStatusChange): void {
    for (const listener of this.statusListeners) listener(change);
  }

  private async listen(isReconnect: boolean): Promise<void> {
    if (this.config.database.kind !== 'postgres' || this.closed) return;
    const client = new Client({ connectionString: this.config.database.url });
    const lost = (error?: Error): void => {
      if (this.client !== client) return;
      this.client = null;
      void client.end().catch(() => undefined);
      if (this.closed) return;
      this.log.warn({ err: error }, 'the LISTEN connection to the database dropped; reopening it');
      this.scheduleRetry();
    };
    client.on('error', lost);
    client.on('end', () => lost());
    client.on('notification', (message) => this.onNotification(message));
    try {
      await client.connect();
      await client.query(`LISTEN ${STATUS_CHANNEL}`);
      await client.query(`LISTEN ${LEASES_RELEASED_CHANNEL}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      if (!isReconnect) throw error;
      this.scheduleRetry();
      return;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    if (isReconnect) for (const listener of this.reconnectListeners) listener();
  }

  private scheduleRetry(): void {
    if (this.retry || this.closed) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      void this.listen(true);
    }, RECONNECT_MS);
    this.retry.unref();
  }

  private onNotification(message: Notification): void {
    if (message.channel === LEASES_RELEASED_CHANNEL) {
      for (const listener of this.releasedListeners) listener();
      return;
    }
    if (message.channel !== STATUS_CHANNEL || !message.payload) return;
    try {
      const change = JSON.parse(message.payload) as SessionStatusChange;
      this.publish(change);
    } catch (error) {
      this.log.warn({ err: error, payload: message.payload }, 'unreadable session status notification');
    }
  }
}

function subscribe<T>(set: Set<T>, listener: T): () => void {
  set.add(listener);
  return () => {
    set.delete(listener);
  };
}

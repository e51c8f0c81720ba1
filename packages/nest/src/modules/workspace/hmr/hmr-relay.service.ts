import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import {
  WORKSPACE_RUNTIME,
  type WorkspaceRuntime,
} from '../../../shared/runtime/workspace-runtime.interface';
import { WorkspaceEventsService } from '../workspace-events.service';
import { normalizeModulePath, ViteHmrClient, type ViteHmrMessage } from './vite-hmr.client';

/**
 * Hears every message of every relayed dev server as it arrives, before it is published. For an
 * `error`, answering true claims it: the relay does not publish it (the observer speaks for it).
 */
export type DevServerObserver = (sessionId: string, message: ViteHmrMessage) => boolean | void;

/**
 * The dev server reports one broken change more than once: from its watcher's compile and from
 * each render of the page (a verdict's on another replica, a browser's). The same error heard
 * again within this is not published again.
 */
const REPEAT_WINDOW_MS = 3_000;

/**
 * Turns a path the dev server reports into a workspace-relative one: a module URL
 * (`/src/pages/index.astro?astro&type=style`) or an absolute file path inside the runtime
 * (`/app/src/...` in a container, `<dataDir>/workspaces/<id>/src/...` for the local runtime).
 */
export function toWorkspacePath(path: string, sessionId: string): string {
  const clean = path.split('?')[0];
  const marker = `/workspaces/${sessionId}/`;
  const at = clean.indexOf(marker);
  if (at >= 0) return clean.slice(at + marker.length);
  if (clean.startsWith('/app/')) return clean.slice('/app/'.length);
  return normalizeModulePath(clean);
}

/**
 * One connection per running session to its dev server's HMR websocket, on the replica holding the
 * session's lease (SessionOwnershipService opens and closes it); what the dev server says
 * (updates, full reloads, build errors) is published on the workspace event bus for the gateway.
 * The dev server is the source of truth: nothing is inferred from file writes.
 */
@Injectable()
export class HmrRelayService implements OnModuleDestroy {
  private readonly logger = new Logger(HmrRelayService.name);
  private readonly relays = new Map<string, ViteHmrClient>();
  private readonly opening = new Map<string, Promise<void>>();
  private readonly observers = new Set<DevServerObserver>();
  /**
   * Sessions whose relay publishes what it hears: those this replica holds the lease of. Another
   * replica's verdict opens a quiet relay (observers only), so sockets never hear a message twice.
   */
  private readonly publishing = new Set<string>();
  /** Per session: the last error heard (its file, place and message) and when. */
  private readonly lastErrors = new Map<string, { key: string; at: number }>();

  constructor(
    @Inject(WORKSPACE_RUNTIME) private readonly runtime: WorkspaceRuntime,
    private readonly events: WorkspaceEventsService,
  ) {}

  /** Number of open relays (for tests and metrics). */
  get openCount(): number {
    let open = 0;
    for (const relay of this.relays.values()) if (relay.isOpen) open++;
    return open;
  }

  has(sessionId: string): boolean {
    return this.relays.has(sessionId);
  }

  /** Whether this replica's relay of the session tells its sockets what the dev server reports. */
  publishes(sessionId: string): boolean {
    return this.publishing.has(sessionId);
  }

  /** Whether the session's relay is connected to its dev server right now. */
  isConnected(sessionId: string): boolean {
    return this.relays.get(sessionId)?.isOpen ?? false;
  }

  /** Adds an observer of every dev server's messages; answers the function that removes it. */
  observe(observer: DevServerObserver): () => void {
    this.observers.add(observer);
    return () => {
      this.observers.delete(observer);
    };
  }

  /**
   * Opens the relay of a running session (idempotent); with `publish`, what it hears goes to the
   * session's sockets too (the lease holder's relay), else only to observers.
   */
  open(sessionId: string, containerId: string, publish = false): Promise<void> {
    if (publish) this.publishing.add(sessionId);
    if (this.relays.has(sessionId)) return Promise.resolve();
    const pending = this.opening.get(sessionId);
    if (pending) return pending;
    const opening = this.runtime
      .address(containerId)
      .then((address) => {
        if (this.opening.get(sessionId) !== opening) return; // closed meanwhile
        const client = new ViteHmrClient({
          host: address.host,
          port: address.port,
          toWorkspacePath: (path) => toWorkspacePath(path, sessionId),
          onMessage: (message) => {
            let claimed = false;
            for (const observer of this.observers) claimed = observer(sessionId, message) === true || claimed;
            if (message.type === 'error' && this.heardAgain(sessionId, message)) return;
            if (!this.publishing.has(sessionId)) return;
            const at = new Date().toISOString();
            switch (message.type) {
              case 'update':
                this.events.emit('hmr-update', { sessionId, kind: message.kind, paths: message.paths, at });
                return;
              case 'error':
                if (claimed) return;
                this.events.emit('error', {
                  sessionId,
                  message: message.message,
                  file: message.file,
                  line: message.line,
                  column: message.column,
                  frame: message.frame,
                  at,
                });
                return;
              case 'connected':
              case 'closed':
                return;
            }
          },
        });
        this.relays.set(sessionId, client);
        client.connect();
      })
      .catch((error: unknown) => this.logger.warn(`no HMR relay for session ${sessionId}: ${String(error)}`))
      .finally(() => {
        if (this.opening.get(sessionId) === opening) this.opening.delete(sessionId);
      });
    this.opening.set(sessionId, opening);
    return opening;
  }

  /** Whether `error` repeats the session's last error within {@link REPEAT_WINDOW_MS}; notes it. */
  private heardAgain(sessionId: string, error: ViteHmrMessage & { type: 'error' }): boolean {
    const key = `${error.file}:${error.line}:${error.column}:${error.message}`;
    const now = performance.now();
    const last = this.lastErrors.get(sessionId);
    this.lastErrors.set(sessionId, { key, at: now });
    return last?.key === key && now - last.at < REPEAT_WINDOW_MS;
  }

  close(sessionId: string): void {
    this.lastErrors.delete(sessionId);
    this.publishing.delete(sessionId);
    this.opening.delete(sessionId);
    this.relays.get(sessionId)?.close();
    this.relays.delete(sessionId);
  }

  onModuleDestroy(): void {
    for (const sessionId of [...this.relays.keys()]) this.close(sessionId);
  }
}

import {
  WORKSPACE_NAMESPACE,
  type BuildErrorEvent,
  type BuildStatusEvent,
  type ClientToServerEvents,
  type ConnectionStatus,
  type HMREvent,
  type LogEvent,
  type ServerToClientEvents,
  type StatusEvent,
  type SubscribeAck,
  type VerdictOkEvent,
} from '@builder/shared';
import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import { apiBaseUrl } from '@/lib/api/api-config';
import { tokenStore } from '@/lib/auth/token.store';
import { createDeferredOwner } from '@/lib/lifecycle/deferred-owner';
import { TypedEmitter } from './typed-emitter';

export type WorkspaceSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** Events of the service: the gateway's events plus the life of the connection. */
export interface WorkspaceSocketEvents {
  'connection-state': (state: ConnectionStatus) => void;
  'build-status': (event: BuildStatusEvent) => void;
  'hmr-update': (event: HMREvent) => void;
  status: (event: StatusEvent) => void;
  /** A build error; with `paths`, the verdict of a change through the files API. */
  error: (event: BuildErrorEvent) => void;
  /** The verdict of a change that compiles: earlier errors of the session are cleared. */
  ok: (event: VerdictOkEvent) => void;
  log: (event: LogEvent) => void;
  /** Answer to a (re-)subscription. */
  subscription: (sessionId: string, ack: SubscribeAck) => void;
  /** The gateway refused the handshake (e.g. a bad token); no automatic retry follows. */
  'connect-refused': (message: string) => void;
}

export interface WebSocketServiceOptions {
  /** API origin; the service connects to its `/workspace` namespace. */
  url: string;
  /** Read at every (re)connection, so a new token is picked up. */
  getToken: () => string | null;
  namespace?: string;
  reconnectionDelayMs?: number;
  reconnectionDelayMaxMs?: number;
  /** How long to wait for the gateway to answer a subscribe. */
  ackTimeoutMs?: number;
  /** WebSocket only by default: no long-polling requests that would need CORS on the API. */
  transports?: Array<'websocket' | 'polling'>;
  /** Builds the socket; tests and other transports can swap it. */
  socketFactory?: (url: string, options: Partial<ManagerOptions & SocketOptions>) => WorkspaceSocket;
}

/**
 * The tab's one connection to the workspace gateway. Remembers the sessions it is subscribed to
 * and subscribes again after every reconnection; exposes the connection state as events.
 */
export class WorkspaceSocketService {
  private readonly emitter = new TypedEmitter<WorkspaceSocketEvents>();
  private readonly subscriptions = new Set<string>();
  private readonly waitingAcks = new Map<string, Array<(ack: SubscribeAck) => void>>();
  private readonly options: Required<Omit<WebSocketServiceOptions, 'socketFactory'>> &
    Pick<WebSocketServiceOptions, 'socketFactory'>;
  private socket: WorkspaceSocket | null = null;
  private currentState: ConnectionStatus = 'disconnected';
  private hasConnected = false;
  private manualRetryTimer: ReturnType<typeof setTimeout> | null = null;
  private manualRetries = 0;
  private disposed = false;

  constructor(options: WebSocketServiceOptions) {
    this.options = {
      namespace: WORKSPACE_NAMESPACE,
      reconnectionDelayMs: 500,
      reconnectionDelayMaxMs: 10_000,
      ackTimeoutMs: 5_000,
      transports: ['websocket'],
      ...options,
    };
  }

  get state(): ConnectionStatus {
    return this.currentState;
  }

  get subscribedSessions(): readonly string[] {
    return [...this.subscriptions];
  }

  on<E extends keyof WorkspaceSocketEvents>(event: E, listener: WorkspaceSocketEvents[E]): () => void {
    return this.emitter.on(event, listener);
  }

  connect(): void {
    if (this.disposed) throw new Error('WorkspaceSocketService was disposed');
    if (this.socket) {
      if (!this.socket.connected && !this.socket.active) {
        this.setState(this.hasConnected ? 'reconnecting' : 'connecting');
        this.socket.connect();
      }
      return;
    }
    const { url, namespace, getToken, reconnectionDelayMs, reconnectionDelayMaxMs, transports } =
      this.options;
    const factory = this.options.socketFactory ?? ((target, opts) => io(target, opts));
    const socket = factory(url.replace(/\/+$/, '') + namespace, {
      autoConnect: false,
      // Its own manager: disposing this service must not close a connection someone else shares.
      forceNew: true,
      transports,
      auth: (cb) => cb({ token: getToken() }),
      reconnection: true,
      reconnectionAttempts: Infinity,
      reconnectionDelay: reconnectionDelayMs,
      reconnectionDelayMax: reconnectionDelayMaxMs,
      randomizationFactor: 0.5,
    });
    this.socket = socket;
    this.wire(socket);
    this.setState('connecting');
    socket.connect();
  }

  /** Subscribes to a session's events; resolves with the gateway's answer once connected. */
  subscribe(sessionId: string): Promise<SubscribeAck> {
    if (this.disposed) return Promise.resolve({ ok: false, error: 'disposed' });
    this.subscriptions.add(sessionId);
    if (this.socket?.connected) return this.sendSubscribe(sessionId);
    // Sent by the `connect` handler, which re-sends every remembered subscription.
    return new Promise((resolve) => {
      const waiting = this.waitingAcks.get(sessionId) ?? [];
      waiting.push(resolve);
      this.waitingAcks.set(sessionId, waiting);
    });
  }

  async unsubscribe(sessionId: string): Promise<SubscribeAck> {
    this.subscriptions.delete(sessionId);
    this.settleWaiting(sessionId, { ok: false, error: 'unsubscribed' });
    const socket = this.socket;
    if (!socket?.connected) return { ok: true };
    return this.request(socket, 'unsubscribe', sessionId);
  }

  /** Closes the connection and drops every listener, subscription and timer. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.clearManualRetry();
    for (const sessionId of [...this.waitingAcks.keys()]) {
      this.settleWaiting(sessionId, { ok: false, error: 'disposed' });
    }
    this.subscriptions.clear();
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.removeAllListeners();
      socket.io.removeAllListeners();
      socket.disconnect();
    }
    this.setState('disconnected');
    this.emitter.removeAllListeners();
  }

  private wire(socket: WorkspaceSocket): void {
    socket.on('connect', () => {
      this.hasConnected = true;
      this.manualRetries = 0;
      this.setState('connected');
      for (const sessionId of this.subscriptions) void this.sendSubscribe(sessionId);
    });

    socket.on('disconnect', (reason) => {
      if (this.disposed) return;
      if (reason === 'io client disconnect') {
        this.setState('disconnected');
      } else if (reason === 'io server disconnect') {
        // socket.io does not reconnect after the server closed the socket on purpose.
        this.setState('reconnecting');
        this.scheduleManualRetry();
      } else {
        this.setState('reconnecting');
      }
    });

    socket.on('connect_error', (error) => {
      if (this.disposed) return;
      if (socket.active) {
        this.setState(this.hasConnected ? 'reconnecting' : 'connecting');
      } else {
        // Refused by the gateway's middleware: retrying with the same token would fail again.
        this.setState('disconnected');
        this.emitter.emit('connect-refused', error.message);
      }
    });

    socket.io.on('reconnect_attempt', () => {
      if (this.hasConnected) this.setState('reconnecting');
    });
    socket.io.on('reconnect_failed', () => this.setState('disconnected'));

    socket.on('build-status', (event) => this.emitter.emit('build-status', event));
    socket.on('hmr-update', (event) => this.emitter.emit('hmr-update', event));
    socket.on('status', (event) => this.emitter.emit('status', event));
    socket.on('error', (event) => this.emitter.emit('error', event));
    socket.on('ok', (event) => this.emitter.emit('ok', event));
    socket.on('log', (event) => this.emitter.emit('log', event));
  }

  private async sendSubscribe(sessionId: string): Promise<SubscribeAck> {
    const socket = this.socket;
    // A subscribe that gets no answer is sent again by the next reconnection.
    const ack: SubscribeAck = socket
      ? await this.request(socket, 'subscribe', sessionId)
      : { ok: false, error: 'disposed' };
    if (this.disposed || !this.subscriptions.has(sessionId)) return ack;
    this.settleWaiting(sessionId, ack);
    this.emitter.emit('subscription', sessionId, ack);
    return ack;
  }

  private async request(
    socket: WorkspaceSocket,
    event: 'subscribe' | 'unsubscribe',
    sessionId: string,
  ): Promise<SubscribeAck> {
    let answer: unknown;
    try {
      answer = await socket.timeout(this.options.ackTimeoutMs).emitWithAck(event, { sessionId });
    } catch {
      return { ok: false, error: `The gateway did not answer the ${event}` };
    }
    return isSubscribeAck(answer) ? answer : { ok: false, error: `Unexpected answer to the ${event}` };
  }

  private settleWaiting(sessionId: string, ack: SubscribeAck): void {
    const waiting = this.waitingAcks.get(sessionId);
    this.waitingAcks.delete(sessionId);
    for (const resolve of waiting ?? []) resolve(ack);
  }

  private scheduleManualRetry(): void {
    this.clearManualRetry();
    const { reconnectionDelayMs, reconnectionDelayMaxMs } = this.options;
    const delay = Math.min(reconnectionDelayMaxMs, reconnectionDelayMs * 2 ** this.manualRetries);
    this.manualRetries += 1;
    this.manualRetryTimer = setTimeout(() => {
      this.manualRetryTimer = null;
      if (!this.disposed && this.socket && !this.socket.connected) this.socket.connect();
    }, delay);
  }

  private clearManualRetry(): void {
    if (this.manualRetryTimer !== null) clearTimeout(this.manualRetryTimer);
    this.manualRetryTimer = null;
  }

  private setState(state: ConnectionStatus): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.emitter.emit('connection-state', state);
  }
}

function isSubscribeAck(value: unknown): value is SubscribeAck {
  return typeof value === 'object' && value !== null && typeof (value as { ok?: unknown }).ok === 'boolean';
}

// One connection per tab, shared by every hook that needs it.
const tabSocket = createDeferredOwner(
  () => {
    const service = new WorkspaceSocketService({ url: apiBaseUrl(), getToken: () => tokenStore.get() });
    service.connect();
    return service;
  },
  (service) => service.dispose(),
);

export interface SocketLease {
  service: WorkspaceSocketService;
  /** Gives the lease back; the connection closes a tick after the last one, unless taken again. */
  release: () => void;
}

/** Takes a lease on the tab's connection to the gateway, creating and connecting it if needed. */
export function acquireWorkspaceSocket(): SocketLease {
  const service = tabSocket.acquire();
  let released = false;
  return {
    service,
    release: () => {
      if (released) return;
      released = true;
      tabSocket.release();
    },
  };
}

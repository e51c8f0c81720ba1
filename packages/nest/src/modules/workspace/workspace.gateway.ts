import { Logger, type OnModuleDestroy } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import {
  type OnGatewayConnection,
  type OnGatewayDisconnect,
  type OnGatewayInit,
  SubscribeMessage,
  WebSocketGateway,
  WebSocketServer,
  ConnectedSocket,
  MessageBody,
} from '@nestjs/websockets';
import {
  type BuildStatusEvent,
  type ClientToServerEvents,
  type ServerToClientEvents,
  type SubscribeAck,
  WORKSPACE_NAMESPACE,
} from '@builder/shared';
import type { Namespace, Socket } from 'socket.io';
import { type AuthenticatedUser, extractBearerToken, verifyAccessToken } from '../auth/access-token';
import { WorkspaceLogsService } from './logs/workspace-logs.service';
import { WorkspaceEventsService, type WorkspaceEventName } from './workspace-events.service';
import { WorkspaceService } from './workspace.service';

interface SocketData {
  user: AuthenticatedUser;
  sessions: Set<string>;
}

type WorkspaceSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
type WorkspaceNamespace = Namespace<
  ClientToServerEvents,
  ServerToClientEvents,
  Record<string, never>,
  SocketData
>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const RELAYED: WorkspaceEventName[] = ['build-status', 'hmr-update', 'status', 'error', 'ok', 'log'];
/** Start-up steps kept per session, so a page that subscribes after `create` answered still sees them all. */
const STEP_HISTORY_LIMIT = 20;

export function sessionRoom(sessionId: string): string {
  return `session:${sessionId}`;
}

/**
 * Socket.IO namespace `/workspace` on the API's port. The JWT is checked in the handshake; a
 * client joins a session's room only if it owns the session, and then hears that session's
 * lifecycle events and its dev server's HMR messages, nothing else.
 */
@WebSocketGateway({ namespace: WORKSPACE_NAMESPACE })
export class WorkspaceGateway
  implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect, OnModuleDestroy
{
  private readonly logger = new Logger(WorkspaceGateway.name);
  private readonly unsubscribers: Array<() => void> = [];
  private readonly stepHistory = new Map<string, BuildStatusEvent[]>();

  @WebSocketServer()
  namespace: WorkspaceNamespace;

  constructor(
    private readonly jwt: JwtService,
    private readonly workspaces: WorkspaceService,
    private readonly events: WorkspaceEventsService,
    private readonly logs: WorkspaceLogsService,
  ) {}

  afterInit(namespace: WorkspaceNamespace): void {
    namespace.use((socket, next) => {
      const handshake = socket.handshake;
      const token =
        (typeof handshake.auth?.token === 'string' ? handshake.auth.token : null) ??
        extractBearerToken(handshake.headers.authorization);
      verifyAccessToken(this.jwt, token)
        .then((user) => {
          socket.data.user = user;
          socket.data.sessions = new Set();
          next();
        })
        .catch((error: Error) => {
          const refusal = new Error(
            token ? error.message : 'authentication required: pass { auth: { token } }',
          );
          (refusal as Error & { data: unknown }).data = { statusCode: 401 };
          next(refusal);
        });
    });
    this.unsubscribers.push(
      this.events.on('build-status', (event) => {
        const history = this.stepHistory.get(event.sessionId) ?? [];
        // A restart begins a new start-up: its steps replace the previous ones.
        if (event.step === 'queued' || (event.step === 'creating' && history.at(-1)?.step !== 'queued'))
          history.length = 0;
        history.push(event);
        if (history.length > STEP_HISTORY_LIMIT) history.shift();
        this.stepHistory.set(event.sessionId, history);
      }),
      this.events.on('status', (event) => {
        if (event.status === 'stopped') this.stepHistory.delete(event.sessionId);
      }),
    );
    for (const name of RELAYED) {
      this.unsubscribers.push(
        this.events.on(name, (event) => {
          (this.namespace.to(sessionRoom(event.sessionId)).emit as (n: string, e: unknown) => boolean)(
            name,
            event,
          );
        }),
      );
    }
  }

  handleConnection(socket: WorkspaceSocket): void {
    // Socket heartbeats count as activity of every session the socket follows.
    socket.conn.on('heartbeat', () => {
      for (const sessionId of socket.data.sessions ?? []) this.workspaces.recordActivity(sessionId);
    });
  }

  handleDisconnect(socket: WorkspaceSocket): void {
    socket.data.sessions?.clear();
  }

  onModuleDestroy(): void {
    for (const off of this.unsubscribers.splice(0)) off();
  }

  @SubscribeMessage('subscribe')
  async subscribe(
    @ConnectedSocket() socket: WorkspaceSocket,
    @MessageBody() body: unknown,
  ): Promise<SubscribeAck> {
    const sessionId = readSessionId(body);
    if (!sessionId) return { ok: false, error: 'sessionId must be a UUID' };
    try {
      await this.workspaces.status(socket.data.user.userId, sessionId);
    } catch {
      return { ok: false, error: `workspace session ${sessionId} not found` };
    }
    await socket.join(sessionRoom(sessionId));
    socket.data.sessions.add(sessionId);
    this.workspaces.recordActivity(sessionId);
    // Replayed after the ack, in order, so the page shows the whole start-up and the dev server's
    // last lines however late it came. A session running since before this backend started has
    // its output followed from now on.
    void this.logs.follow(sessionId);
    const history = [...(this.stepHistory.get(sessionId) ?? [])];
    const lines = this.logs.replay(sessionId);
    if (history.length + lines.length > 0)
      setImmediate(() => {
        history.forEach((event) => socket.emit('build-status', event));
        lines.forEach((event) => socket.emit('log', event));
      });
    return { ok: true };
  }

  @SubscribeMessage('unsubscribe')
  async unsubscribe(
    @ConnectedSocket() socket: WorkspaceSocket,
    @MessageBody() body: unknown,
  ): Promise<SubscribeAck> {
    const sessionId = readSessionId(body);
    if (!sessionId) return { ok: false, error: 'sessionId must be a UUID' };
    await socket.leave(sessionRoom(sessionId));
    socket.data.sessions.delete(sessionId);
    return { ok: true };
  }
}

function readSessionId(body: unknown): string | null {
  if (typeof body !== 'object' || body === null) return null;
  const sessionId = (body as { sessionId?: unknown }).sessionId;
  return typeof sessionId === 'string' && UUID.test(sessionId) ? sessionId.toLowerCase() : null;
}

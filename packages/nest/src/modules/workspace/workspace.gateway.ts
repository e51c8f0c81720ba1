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
  type LogEvent,
  type ServerToClientEvents,
  type SubscribeAck,
  WORKSPACE_NAMESPACE,
} from '@builder/shared';
import type { Namespace, Socket } from 'socket.io';
import { AppConfig } from '../../config/app-config';
import { type AuthenticatedUser, extractBearerToken, verifyAccessToken } from '../auth/access-token';
import { SessionChangesService } from './cluster/session-changes.service';
import type { WorkspaceSessionDto } from './dto/workspace-session.dto';
import { WorkspaceLogsService } from './logs/workspace-logs.service';
import { WorkspaceEventsService, type WorkspaceEventName } from './workspace-events.service';
import { WorkspaceService } from './workspace.service';

interface SocketData {
  user: AuthenticatedUser;
  sessions: Set<string>;
}

/** What a replica holds of a session for a socket that subscribes: its start-up steps and last lines. */
interface Replay {
  steps: BuildStatusEvent[];
  lines: LogEvent[];
}

/** Between replicas (through the adapter): a subscriber's replica asks the others for their replay. */
interface ServerSideEvents {
  replay: (sessionId: string, answer: (replay: Replay) => void) => void;
}

type WorkspaceSocket = Socket<ClientToServerEvents, ServerToClientEvents, ServerSideEvents, SocketData>;
type WorkspaceNamespace = Namespace<ClientToServerEvents, ServerToClientEvents, ServerSideEvents, SocketData>;

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
 *
 * With several replicas (PostgreSQL server) the Socket.IO PostgreSQL adapter carries every room
 * emit to the sockets of every replica, so a client hears its session wherever the session's start
 * and relay run. A session's start-up steps are kept by the replica that ran them and its last
 * lines by the one following its output: a subscription asks the other replicas for theirs and
 * replays the most recent.
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
    private readonly config: AppConfig,
    private readonly changes: SessionChangesService,
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
      // Whichever replica stopped it: every replica's history of it goes.
      this.changes.onStatus((change) => {
        if (change.status === 'stopped') this.stepHistory.delete(change.sessionId);
      }),
    );
    namespace.on('replay', (sessionId, answer) => answer(this.localReplay(sessionId)));
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

  /** Closes this replica's sockets (it is draining): their clients reconnect, to another replica. */
  disconnectAll(): void {
    this.namespace.local.disconnectSockets(true);
  }

  @SubscribeMessage('subscribe')
  async subscribe(
    @ConnectedSocket() socket: WorkspaceSocket,
    @MessageBody() body: unknown,
  ): Promise<SubscribeAck> {
    const sessionId = readSessionId(body);
    if (!sessionId) return { ok: false, error: 'sessionId must be a UUID' };
    let session: WorkspaceSessionDto;
    try {
      session = await this.workspaces.status(socket.data.user.userId, sessionId);
    } catch {
      return { ok: false, error: `workspace session ${sessionId} not found` };
    }
    await socket.join(sessionRoom(sessionId));
    socket.data.sessions.add(sessionId);
    this.workspaces.recordActivity(sessionId);
    // Replayed after the ack, in order, so the page shows the whole start-up and the dev server's
    // last lines however late it came, and whichever replica it reached.
    const replay = await this.replay(sessionId);
    // The replica that ran the start-up is gone (stopped, replaced): its step as the database holds it.
    if (replay.steps.length === 0 && session.buildStep)
      replay.steps.push({
        sessionId,
        step: session.buildStep,
        ...(session.errorMessage ? { message: session.errorMessage } : {}),
        at: new Date().toISOString(),
      });
    if (replay.steps.length + replay.lines.length > 0)
      setImmediate(() => {
        replay.steps.forEach((event) => socket.emit('build-status', event));
        replay.lines.forEach((event) => socket.emit('log', event));
      });
    return { ok: true };
  }

  private localReplay(sessionId: string): Replay {
    return { steps: [...(this.stepHistory.get(sessionId) ?? [])], lines: this.logs.replay(sessionId) };
  }

  /** This replica's replay, and the others' when several share the database (never rejects). */
  private async replay(sessionId: string): Promise<Replay> {
    const replays = [this.localReplay(sessionId)];
    // The in-memory adapter of the embedded database has no other replica to ask (nor answers).
    if (this.config.database.kind === 'postgres') {
      // A replica that does not answer within the adapter's request timeout (it just died) is
      // skipped: the answers that came are used.
      const answers = await this.namespace
        .serverSideEmitWithAck('replay', sessionId)
        .catch((error: Error & { responses?: Replay[] }) => {
          this.logger.warn(`replay request for ${sessionId}: ${error.message}`);
          return error.responses ?? [];
        });
      replays.push(...(answers as Replay[]));
    }
    return latestReplay(replays);
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

/** The latest of several replays: steps of the most recent start-up, the longest run of lines. */
export function latestReplay(replays: Replay[]): Replay {
  const lastAt = (steps: BuildStatusEvent[]): string => steps.at(-1)?.at ?? '';
  let steps: BuildStatusEvent[] = [];
  let lines: LogEvent[] = [];
  for (const replay of replays) {
    const newer = lastAt(replay.steps).localeCompare(lastAt(steps));
    if (newer > 0 || (newer === 0 && replay.steps.length > steps.length)) steps = replay.steps;
    if (replay.lines.length > lines.length) lines = replay.lines;
  }
  return { steps, lines };
}

function readSessionId(body: unknown): string | null {
  if (typeof body !== 'object' || body === null) return null;
  const sessionId = (body as { sessionId?: unknown }).sessionId;
  return typeof sessionId === 'string' && UUID.test(sessionId) ? sessionId.toLowerCase() : null;
}

import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  BuildErrorEvent,
  ClientToServerEvents,
  ConnectionStatus,
  HMREvent,
  LogEvent,
  ServerToClientEvents,
  VerdictOkEvent,
} from '@builder/shared';
import { Server } from 'socket.io';
import { afterEach, describe, expect, it } from 'vitest';
import { WorkspaceSocketService } from './websocket.service';

interface Subscribed {
  sessionId: string;
  token: unknown;
}

/**
 * A stand-in for the workspace gateway (a real socket.io server, not the API's gateway): token
 * check, subscribe/unsubscribe with acks, rooms. It lets these tests stop and restart the server
 * at will; the contract with the real gateway is proven by the end-to-end test in Chromium.
 */
class StandInGateway {
  readonly subscribed: Subscribed[] = [];
  readonly unsubscribed: string[] = [];
  io!: Server<ClientToServerEvents, ServerToClientEvents>;
  private http!: HttpServer;

  async start(port = 0): Promise<number> {
    this.http = createServer();
    this.io = new Server<ClientToServerEvents, ServerToClientEvents>(this.http);
    const nsp = this.io.of('/workspace');
    nsp.use((socket, next) => {
      const token: unknown = socket.handshake.auth.token;
      next(token === 'good' ? undefined : new Error('unauthorized'));
    });
    nsp.on('connection', (socket) => {
      socket.on('subscribe', ({ sessionId }, ack) => {
        this.subscribed.push({ sessionId, token: socket.handshake.auth.token });
        void socket.join(sessionId);
        ack(sessionId === 'forbidden' ? { ok: false, error: 'Not your session' } : { ok: true });
      });
      socket.on('unsubscribe', ({ sessionId }, ack) => {
        this.unsubscribed.push(sessionId);
        void socket.leave(sessionId);
        ack({ ok: true });
      });
    });
    await new Promise<void>((resolve) => this.http.listen(port, '127.0.0.1', resolve));
    return (this.http.address() as AddressInfo).port;
  }

  /** Closes every connection and the listening socket, as a crashed or restarting API would. */
  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      void this.io.close(() => resolve());
    });
  }
}

const gateways: StandInGateway[] = [];
const services: WorkspaceSocketService[] = [];

afterEach(async () => {
  for (const service of services.splice(0)) service.dispose();
  for (const gateway of gateways.splice(0)) await gateway.stop().catch(() => undefined);
});

async function startGateway(port?: number): Promise<{ gateway: StandInGateway; port: number }> {
  const gateway = new StandInGateway();
  gateways.push(gateway);
  return { gateway, port: await gateway.start(port) };
}

function service(
  port: number,
  token = 'good',
): { service: WorkspaceSocketService; states: ConnectionStatus[] } {
  const created = new WorkspaceSocketService({
    url: `http://127.0.0.1:${port}`,
    getToken: () => token,
    reconnectionDelayMs: 50,
    reconnectionDelayMaxMs: 200,
    ackTimeoutMs: 1_000,
  });
  services.push(created);
  const states: ConnectionStatus[] = [];
  created.on('connection-state', (state) => states.push(state));
  return { service: created, states };
}

async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('WorkspaceSocketService against a stand-in gateway (socket.io server; the real one is in the e2e)', () => {
  it('connects with the token and subscribes with an acknowledgement', async () => {
    const { gateway, port } = await startGateway();
    const { service: socket, states } = service(port);

    socket.connect();
    expect(socket.state).toBe('connecting');
    const ack = await socket.subscribe('s1');

    expect(ack).toEqual({ ok: true });
    expect(socket.state).toBe('connected');
    expect(states).toEqual(['connecting', 'connected']);
    expect(gateway.subscribed).toEqual([{ sessionId: 's1', token: 'good' }]);
  });

  it("forwards the stand-in gateway's events to typed listeners", async () => {
    const { gateway, port } = await startGateway();
    const { service: socket } = service(port);
    const received: HMREvent[] = [];
    socket.on('hmr-update', (event) => received.push(event));
    socket.connect();
    await socket.subscribe('s1');

    const event: HMREvent = {
      sessionId: 's1',
      kind: 'update',
      paths: ['src/pages/index.astro'],
      at: '2024-01-01T00:00:00Z',
    };
    gateway.io.of('/workspace').to('s1').emit('hmr-update', event);

    await until(() => received.length === 1, 'the hmr-update event');
    expect(received).toEqual([event]);
  });

  it('forwards compile verdicts (error, ok) and log lines', async () => {
    const { gateway, port } = await startGateway();
    const { service: socket } = service(port);
    const received: Array<BuildErrorEvent | VerdictOkEvent | LogEvent> = [];
    socket.on('error', (event) => received.push(event));
    socket.on('ok', (event) => received.push(event));
    socket.on('log', (event) => received.push(event));
    socket.connect();
    await socket.subscribe('s1');

    const at = '2024-01-01T00:00:00Z';
    const error: BuildErrorEvent = {
      sessionId: 's1',
      file: 'src/pages/index.astro',
      line: 5,
      column: 20,
      message: 'Unexpected ";"',
      paths: ['src/pages/index.astro'],
      at,
    };
    const ok: VerdictOkEvent = { sessionId: 's1', paths: ['src/pages/index.astro'], checked: ['/'], at };
    const log: LogEvent = { sessionId: 's1', stream: 'stdout', line: '[200] / 3ms', at };
    const room = gateway.io.of('/workspace').to('s1');
    room.emit('error', error);
    room.emit('ok', ok);
    room.emit('log', log);

    await until(() => received.length === 3, 'the three events');
    expect(received).toEqual([error, ok, log]);
  });

  it('reports a refused subscription', async () => {
    const { port } = await startGateway();
    const { service: socket } = service(port);
    socket.connect();

    await expect(socket.subscribe('forbidden')).resolves.toEqual({ ok: false, error: 'Not your session' });
  });

  it('goes to reconnecting when the server stops, and re-subscribes once it is back on the same port', async () => {
    const first = await startGateway();
    const { service: socket, states } = service(first.port);
    socket.connect();
    await socket.subscribe('s1');
    await socket.subscribe('s2');
    await socket.unsubscribe('s2');

    await first.gateway.stop();
    await until(() => socket.state === 'reconnecting', "the 'reconnecting' state");

    const second = await startGateway(first.port);
    await until(() => socket.state === 'connected', "the 'connected' state after the restart");
    await until(() => second.gateway.subscribed.length === 1, 'the re-sent subscribe');

    expect(second.gateway.subscribed).toEqual([{ sessionId: 's1', token: 'good' }]);
    expect(states).toEqual(['connecting', 'connected', 'reconnecting', 'connected']);
    expect(socket.subscribedSessions).toEqual(['s1']);
  });

  it('reconnects by itself after the server closed the socket on purpose', async () => {
    const { gateway, port } = await startGateway();
    const { service: socket, states } = service(port);
    socket.connect();
    await socket.subscribe('s1');

    gateway.io.of('/workspace').disconnectSockets();
    await until(() => gateway.subscribed.length === 2, 'the subscribe sent after the manual reconnect');

    expect(socket.state).toBe('connected');
    expect(states).toEqual(['connecting', 'connected', 'reconnecting', 'connected']);
  });

  it('subscribes on connect when subscribe is called before the connection is up', async () => {
    const { gateway, port } = await startGateway();
    const { service: socket } = service(port);

    const pending = socket.subscribe('early');
    socket.connect();

    await expect(pending).resolves.toEqual({ ok: true });
    expect(gateway.subscribed.map((s) => s.sessionId)).toEqual(['early']);
  });

  it('stops at disconnected when the stand-in gateway refuses the token', async () => {
    const { port } = await startGateway();
    const { service: socket, states } = service(port, 'bad');
    const refusals: string[] = [];
    socket.on('connect-refused', (message) => refusals.push(message));

    socket.connect();
    await until(() => refusals.length === 1, 'the refusal');

    expect(refusals).toEqual(['unauthorized']);
    expect(states).toEqual(['connecting', 'disconnected']);
  });

  it('closes the connection and settles pending subscriptions on dispose', async () => {
    const { gateway, port } = await startGateway();
    const { service: socket, states } = service(port);
    socket.connect();
    await socket.subscribe('s1');
    const nsp = gateway.io.of('/workspace');
    expect(nsp.sockets.size).toBe(1);

    socket.dispose();
    const afterDispose = socket.subscribe('late');

    await until(() => nsp.sockets.size === 0, 'the server to see the disconnect');
    expect(states.at(-1)).toBe('disconnected');
    expect(socket.state).toBe('disconnected');
    await expect(afterDispose).resolves.toEqual({ ok: false, error: 'disposed' });
    expect(() => socket.connect()).toThrow(/disposed/);
  });
});

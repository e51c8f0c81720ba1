import type { ClientToServerEvents, ServerToClientEvents } from '@builder/shared';
import { io, type Socket } from 'socket.io-client';
import { expect } from 'vitest';

export type WorkspaceClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/**
 * A socket.io client of the `/workspace` namespace, connected with `token`, subscribed to
 * `sessionId` (the subscription asserted). `sockets` collects it, for the suite to disconnect.
 */
export async function subscribedSocket(
  baseUrl: string,
  token: string,
  sessionId: string,
  sockets: WorkspaceClientSocket[],
  listen: (socket: WorkspaceClientSocket) => void = () => undefined,
): Promise<WorkspaceClientSocket> {
  const socket: WorkspaceClientSocket = io(`${baseUrl}/workspace`, {
    transports: ['websocket'],
    auth: { token },
    reconnection: false,
    forceNew: true,
  });
  sockets.push(socket);
  // Listening before the subscription, so nothing sent right after its answer is missed.
  listen(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  const ack = await socket.timeout(10_000).emitWithAck('subscribe', { sessionId });
  expect(ack).toEqual({ ok: true });
  return socket;
}

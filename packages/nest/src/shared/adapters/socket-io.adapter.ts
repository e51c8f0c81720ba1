import type { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { createAdapter } from '@socket.io/postgres-adapter';
import { Pool } from 'pg';
import type { Server, ServerOptions } from 'socket.io';

/**
 * Replicas say they are alive this often; one silent for the timeout counts as gone, and requests
 * to the others (a subscription's replay) stop waiting for it.
 */
const CLUSTER_HEARTBEAT_MS = 2_000;
const CLUSTER_HEARTBEAT_TIMEOUT_MS = 5_000;

/**
 * Socket.IO on the API's own HTTP server, with CORS limited to the web app's origins. Upgrades
 * that are not Socket.IO's (the preview proxy's websockets) are left alone instead of being closed.
 *
 * With a PostgreSQL server (`databaseUrl`), the Socket.IO PostgreSQL adapter joins every replica
 * of the database into one cluster (NOTIFY on its own small pool; payloads over 8000 bytes go
 * through the `socket_io_attachments` table of the migrations), so a room emit on one replica
 * reaches sockets on all. Transport is websocket only: a websocket stays on the replica it reached,
 * so no sticky sessions are needed in front (long-polling's several requests would each need the
 * same replica). The embedded database has one process and keeps the in-memory adapter.
 */
export class SocketIoAdapter extends IoAdapter {
  private pool: Pool | null = null;

  constructor(
    app: INestApplicationContext,
    private readonly origins: string[],
    private readonly databaseUrl: string | null = null,
  ) {
    super(app);
  }

  override createIOServer(port: number, options?: ServerOptions): Server {
    const server = super.createIOServer(port, {
      ...options,
      cors: { origin: this.origins, credentials: true },
      destroyUpgrade: false,
      transports: ['websocket'],
      pingInterval: 20_000,
      pingTimeout: 20_000,
    } as ServerOptions) as Server;
    if (this.databaseUrl) {
      this.pool ??= new Pool({ connectionString: this.databaseUrl, max: 4 });
      // A dropped connection is reopened by the adapter; the pool must not crash the process.
      this.pool.on('error', () => undefined);
      server.adapter(
        createAdapter(this.pool, {
          heartbeatInterval: CLUSTER_HEARTBEAT_MS,
          heartbeatTimeout: CLUSTER_HEARTBEAT_TIMEOUT_MS,
          errorHandler: () => undefined,
        }),
      );
    }
    return server;
  }

  override async close(server: Parameters<IoAdapter['close']>[0]): Promise<void> {
    await super.close(server);
    const pool = this.pool;
    this.pool = null;
    await pool?.end().catch(() => undefined);
  }
}

import type { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { Server, ServerOptions } from 'socket.io';

/**
 * Socket.IO on the API's own HTTP server, with CORS limited to the web app's origins. Upgrades
 * that are not Socket.IO's (the preview proxy's websockets) are left alone instead of being closed.
 */
export class SocketIoAdapter extends IoAdapter {
  constructor(
    app: INestApplicationContext,
    private readonly origins: string[],
  ) {
    super(app);
  }

  override createIOServer(port: number, options?: ServerOptions): Server {
    return super.createIOServer(port, {
      ...options,
      cors: { origin: this.origins, credentials: true },
      destroyUpgrade: false,
      pingInterval: 20_000,
      pingTimeout: 20_000,
    } as ServerOptions) as Server;
  }
}

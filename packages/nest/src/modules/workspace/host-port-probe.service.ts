import { createServer } from 'node:net';
import { Injectable } from '@nestjs/common';

/**
 * Asks the host whether a TCP port is free, by binding it for a moment. Binding the IPv4 wildcard
 * conflicts with any listener on that port (loopback or any interface), so a port another program
 * holds is reported as taken.
 */
@Injectable()
export class HostPortProbe {
  isFree(port: number): Promise<boolean> {
    return new Promise((resolve) => {
      const server = createServer();
      server.unref();
      server.once('error', () => resolve(false));
      server.listen({ port, host: '0.0.0.0', exclusive: true }, () => {
        server.close(() => resolve(true));
      });
    });
  }
}

import { type Agent, request } from 'node:http';
import { Injectable } from '@nestjs/common';
import { DEV_SERVER_HOST_HEADER } from './dev-server.constants';

export interface ProbeResult {
  /** HTTP status, or null when nothing answered. */
  status: number | null;
  /** Why nothing answered (connection refused, timeout, ...). */
  error?: string;
  /** The body, when asked for. */
  body?: string;
}

export interface ProbeOptions {
  /** Bound of the whole request, response included (a first render can take seconds). */
  timeoutMs: number;
  /**
   * Bound of the TCP connect alone. Right after a container starts, its first SYNs can be dropped
   * while the engine wires the network; the kernel then retransmits only after 1, 3, 7 s. A short
   * connect bound and a fresh attempt finds the server as soon as it listens.
   */
  connectTimeoutMs?: number;
  keepBody?: boolean;
  /** Keeps connections for later requests (default: one connection per request). */
  agent?: Agent;
}

/** The HTTP probe of dev servers (sent as `localhost`, see DEV_SERVER_HOST_HEADER), behind a class so tests can swap it for a fake. */
@Injectable()
export class HttpProbe {
  /** One GET (without keep-alive unless an agent is given). Never rejects. */
  get(url: string, options: ProbeOptions): Promise<ProbeResult> {
    const connectTimeoutMs = Math.min(options.connectTimeoutMs ?? 500, options.timeoutMs);
    return new Promise((resolve) => {
      let settled = false;
      const finish = (result: ProbeResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(overall);
        clearTimeout(connect);
        resolve(result);
      };
      const req = request(url, { method: 'GET', agent: options.agent ?? false, headers: { host: DEV_SERVER_HOST_HEADER } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => {
          if (options.keepBody) chunks.push(chunk);
        });
        res.once('end', () =>
          finish({
            status: res.statusCode ?? null,
            body: options.keepBody ? Buffer.concat(chunks).toString('utf8') : undefined,
          }),
        );
        res.once('error', (error) => finish({ status: null, error: error.message }));
      });
      const overall = setTimeout(
        () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)),
        options.timeoutMs,
      );
      const connect = setTimeout(
        () => req.destroy(new Error(`no connection within ${connectTimeoutMs} ms`)),
        connectTimeoutMs,
      );
      req.once('socket', (socket) => {
        // A kept connection is connected already and never says so again.
        if (!socket.connecting) clearTimeout(connect);
        else socket.once('connect', () => clearTimeout(connect));
      });
      req.once('error', (error: NodeJS.ErrnoException) =>
        finish({ status: null, error: error.code ?? error.message }),
      );
      req.end();
    });
  }
}

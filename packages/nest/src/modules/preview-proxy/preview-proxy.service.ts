import { Agent, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { WorkspaceStatus } from '@builder/shared';
import httpProxy from 'http-proxy';
import { AppConfig } from '../../config/app-config';
import { DEV_SERVER_HOST_HEADER } from '../../shared/runtime/dev-server.constants';
import { WORKSPACE_RUNTIME, type WorkspaceRuntime } from '../../shared/runtime/workspace-runtime.interface';
import { WorkspaceSessionRepository } from '../workspace/workspace-session.repository';
import { SessionChangesService } from '../workspace/cluster/session-changes.service';
import { frameAncestorsPolicy, restrictPreviewHeaders } from './preview-headers';
import { parsePreviewHost, tokensEqual } from './preview-host';

/**
 * How long a resolution is reused. A running session's address stays cached for a minute: every
 * status change, made by any replica, invalidates it at once (LISTEN/NOTIFY), and a proxy error
 * does too. Without it an
 * edit's first request paid a database read and an engine inspect (~15 ms of a CSS edit's 49 ms).
 */
const RUNNING_CACHE_MS = 60_000;
/** Other answers (starting, ended, unknown) are re-read sooner: they change without our events elsewhere. */
const RESOLVE_CACHE_MS = 2_000;
/**
 * Idle upstream connections are dropped after this, before the dev server's own keep-alive
 * timeout (Node's default, 5 s) could close one just as a request is sent on it.
 */
const UPSTREAM_IDLE_MS = 4_000;

const NO_SUCH_PREVIEW = { ok: false, status: 404, message: 'no such preview' } as const;

type Resolution =
  { ok: true; sessionId: string; target: string } | { ok: false; status: 404 | 410 | 503; message: string };

/**
 * Routes `http://<sessionId>-<token>.<previewDomain>:<apiPort>/` to the session's dev server,
 * websockets included, so the iframe, its assets and its HMR socket authenticate by the capability
 * in the host name alone (no third-party cookies). Every response it serves may be framed only by
 * the web app's origins (CSP frame-ancestors), and only those origins get the dev server's CORS
 * answers. It sits in front of the API's own request handler on the same HTTP server; traffic for
 * other hosts passes through untouched.
 */
@Injectable()
export class PreviewProxyService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(PreviewProxyService.name);
  /**
   * Connections to dev servers are kept and reused. Without an agent http-proxy opens one per
   * request and asks the dev server to close it: measured here, +3.1 ms per proxied request
   * (1.4 ms direct, 4.5 ms proxied for a CSS module), paid by every HMR update.
   */
  private readonly upstream = new Agent({
    keepAlive: true,
    timeout: UPSTREAM_IDLE_MS,
    maxFreeSockets: 4,
    scheduling: 'lifo',
  });
  private readonly proxy = httpProxy.createProxyServer({
    xfwd: false,
    ws: true,
    changeOrigin: false,
    agent: this.upstream,
  });
  private readonly cache = new Map<string, { resolution: Resolution; token: string | null; until: number }>();
  /** The session each proxied request or upgrade is for, so a failure forgets its cached address. */
  private readonly proxiedFor = new WeakMap<IncomingMessage, string>();
  private server: Server | null = null;
  private readonly unsubscribe: () => void;
  private readonly offReconnect: () => void;
  /** CSP of every preview response (WEB_ORIGIN). */
  private readonly framePolicy: string;
  private apiListeners: Array<(req: IncomingMessage, res: ServerResponse) => void> = [];
  private readonly onRequest = (req: IncomingMessage, res: ServerResponse) =>
    void this.handleRequest(req, res);
  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) =>
    void this.handleUpgrade(req, socket, head);

  constructor(
    private readonly config: AppConfig,
    private readonly adapterHost: HttpAdapterHost,
    @Inject(WORKSPACE_RUNTIME) private readonly runtime: WorkspaceRuntime,
    private readonly sessions: WorkspaceSessionRepository,
    changes: SessionChangesService,
  ) {
    // A status change (ended, restarted) must reach the proxy at once, not after the cache expires:
    // on every replica, whichever one made it (the database notifies each).
    this.unsubscribe = changes.onStatus((change) => this.invalidate(change.sessionId));
    this.offReconnect = changes.onReconnect(() => this.cache.clear());
    // `Connection` is hop-by-hop: a client closing its own connection to us says nothing about ours
    // to the dev server, which stays open for the next request (upgrades are not touched here).
    this.proxy.on('proxyReq', (proxyReq) => proxyReq.removeHeader('connection'));
    this.framePolicy = frameAncestorsPolicy(config.webOrigins);
    // Emitted before http-proxy copies the headers into our response, so edits here are what is sent.
    this.proxy.on('proxyRes', (proxyRes, req) =>
      restrictPreviewHeaders(proxyRes.headers, req.headers.origin, this.config.webOrigins, this.framePolicy),
    );
    this.proxy.on('error', (error, req, target) => {
      const sessionId = this.proxiedFor.get(req);
      if (sessionId) this.invalidate(sessionId);
      if (target && 'writeHead' in target) {
        const res = target as ServerResponse;
        if (!res.headersSent)
          sendError(
            res,
            502,
            `the workspace's dev server does not answer: ${error.message}`,
            this.framePolicy,
          );
        else res.end();
      } else if (target && 'destroy' in target) {
        (target as Duplex).destroy();
      }
    });
  }

  onApplicationBootstrap(): void {
    const server = this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
    if (!server) return;
    this.server = server;
    // Take over the 'request' event so preview hosts never reach the API's router.
    this.apiListeners = server.listeners('request') as typeof this.apiListeners;
    server.removeAllListeners('request');
    server.on('request', this.onRequest);
    server.prependListener('upgrade', this.onUpgrade);
  }

  onModuleDestroy(): void {
    this.unsubscribe();
    this.offReconnect();
    if (this.server) {
      this.server.off('request', this.onRequest);
      this.server.off('upgrade', this.onUpgrade);
      for (const listener of this.apiListeners) this.server.on('request', listener);
    }
    this.proxy.close();
    this.upstream.destroy();
  }

  /** Forgets what is cached for a session (its status or address changed). */
  invalidate(sessionId: string): void {
    this.cache.delete(sessionId);
  }

  private async handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const parsed = parsePreviewHost(req.headers.host, this.config.preview.domain);
    if (parsed.kind === 'not-preview') {
      for (const listener of this.apiListeners) listener.call(this.server, req, res);
      return;
    }
    const resolution = await this.resolve(parsed);
    if (!resolution.ok) return sendError(res, resolution.status, resolution.message, this.framePolicy);
    // Preview traffic is activity: a preview in use never goes idle.
    this.sessions.recordActivity(resolution.sessionId);
    this.proxiedFor.set(req, resolution.sessionId);
    req.headers.host = DEV_SERVER_HOST_HEADER;
    this.proxy.web(req, res, { target: resolution.target });
  }

  private async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const hostHeader = req.headers.host;
    const parsed = parsePreviewHost(hostHeader, this.config.preview.domain);
    if (parsed.kind === 'not-preview') return; // the socket gateway's own upgrades
    const origin = req.headers.origin;
    if (origin !== undefined && !sameOrigin(origin, hostHeader)) {
      return refuseUpgrade(socket, 403, 'websocket origin does not match the preview');
    }
    const resolution = await this.resolve(parsed);
    if (!resolution.ok) return refuseUpgrade(socket, resolution.status, resolution.message);
    this.sessions.recordActivity(resolution.sessionId);
    this.proxiedFor.set(req, resolution.sessionId);
    req.headers.host = DEV_SERVER_HOST_HEADER;
    this.proxy.ws(req, socket, head, { target: resolution.target });
  }

  private async resolve(parsed: ReturnType<typeof parsePreviewHost>): Promise<Resolution> {
    if (parsed.kind !== 'preview') return NO_SUCH_PREVIEW;
    let entry = this.cache.get(parsed.sessionId);
    if (!entry || entry.until <= Date.now()) {
      const found = await this.lookup(parsed.sessionId);
      entry = { ...found, until: Date.now() + (found.resolution.ok ? RUNNING_CACHE_MS : RESOLVE_CACHE_MS) };
      this.cache.set(parsed.sessionId, entry);
    }
    // Unknown session and wrong token answer alike, so a label reveals nothing about sessions.
    if (!entry.token || !tokensEqual(entry.token, parsed.token)) return NO_SUCH_PREVIEW;
    return entry.resolution;
  }

  private async lookup(sessionId: string): Promise<{ resolution: Resolution; token: string | null }> {
    const row = await this.sessions.findPreviewTarget(sessionId).catch(() => null);
    if (!row) return { resolution: NO_SUCH_PREVIEW, token: null };
    const token = row.previewToken;
    if (row.status === WorkspaceStatus.Creating) {
      return {
        token,
        resolution: { ok: false, status: 503, message: 'the workspace is still starting; retry shortly' },
      };
    }
    if (row.status !== WorkspaceStatus.Running || !row.containerId) {
      return {
        token,
        resolution: { ok: false, status: 410, message: 'this preview has ended with its session' },
      };
    }
    try {
      const address = await this.runtime.address(row.containerId);
      return {
        token,
        resolution: { ok: true, sessionId: row.id, target: `http://${address.host}:${address.port}` },
      };
    } catch {
      return {
        token,
        resolution: { ok: false, status: 503, message: 'the workspace is not reachable right now' },
      };
    }
  }
}

function sameOrigin(origin: string, hostHeader: string | undefined): boolean {
  try {
    return new URL(origin).host.toLowerCase() === (hostHeader ?? '').toLowerCase();
  } catch {
    return false;
  }
}

function sendError(res: ServerResponse, status: number, message: string, framePolicy: string): void {
  const error = {
    403: 'Forbidden',
    404: 'Not Found',
    410: 'Gone',
    502: 'Bad Gateway',
    503: 'Service Unavailable',
  }[status];
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': framePolicy,
  });
  res.end(
    JSON.stringify({
      statusCode: status,
      error: error ?? 'Error',
      message,
      path: '/',
      timestamp: new Date().toISOString(),
    }),
  );
}

function refuseUpgrade(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ statusCode: status, message });
  socket.end(
    `HTTP/1.1 ${status} ${status === 403 ? 'Forbidden' : status === 410 ? 'Gone' : status === 503 ? 'Service Unavailable' : 'Not Found'}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

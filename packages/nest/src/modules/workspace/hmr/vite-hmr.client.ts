import WebSocket from 'ws';
import type { HmrUpdateKind } from '@builder/shared';

/** What the relay makes of one message of a Vite dev server's HMR socket. */
export type ViteHmrMessage =
  | { type: 'connected' }
  | { type: 'update'; kind: HmrUpdateKind; paths: string[] }
  | { type: 'error'; message: string; file?: string; line?: number; column?: number; frame?: string }
  | { type: 'closed' };

export interface ViteHmrClientOptions {
  host: string;
  port: number;
  /** Turns a path the dev server reports (URL path or absolute file path) into a workspace path. */
  toWorkspacePath?: (path: string) => string;
  onMessage: (message: ViteHmrMessage) => void;
  /** First reconnect delay; doubles up to `maxReconnectDelayMs`. */
  reconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
}

interface ViteUpdate {
  type: 'js-update' | 'css-update';
  path: string;
}

interface ErrorLocation {
  file?: string;
  line?: number;
  column?: number;
}

/** CSS reaches Vite as modules (`theme.css`, `page.astro?astro&type=style&lang.css`): swapped in place. */
function isStyleModule(path: string): boolean {
  const [file, query = ''] = path.split('?');
  return /\.(css|scss|sass|less|styl|pcss|postcss)$/.test(file) || /(^|&)type=style(&|$)/.test(query);
}

interface VitePayload {
  type: string;
  updates?: ViteUpdate[];
  path?: string;
  triggeredBy?: string;
  // Vite puts the position in `loc`; Astro's enhanced error payload in `location`.
  err?: { message?: string; id?: string; frame?: string; loc?: ErrorLocation; location?: ErrorLocation };
}

/** Drops the query and the leading slash of a module URL: `/src/a.astro?astro&type=style` → `src/a.astro`. */
export function normalizeModulePath(path: string): string {
  return path.split('?')[0].replace(/^\/+/, '');
}

/**
 * Connects to a dev server's HMR websocket the way the browser's Vite client does (sub-protocol
 * `vite-hmr`, no Origin header, so Vite's browser token check does not apply) and reports its
 * messages. Reconnects with backoff while open, so a restarted dev server is picked up again.
 */
export class ViteHmrClient {
  private socket: WebSocket | null = null;
  private closed = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly options: ViteHmrClientOptions) {}

  get isOpen(): boolean {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  connect(): void {
    if (this.closed) return;
    const { host, port } = this.options;
    const socket = new WebSocket(`ws://${host}:${port}/`, 'vite-hmr', { handshakeTimeout: 5_000 });
    this.socket = socket;
    socket.on('open', () => {
      this.attempt = 0;
    });
    socket.on('message', (data) => this.handle(data.toString()));
    socket.on('error', () => undefined); // 'close' follows and schedules the reconnect
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.closed) return;
      this.options.onMessage({ type: 'closed' });
      this.scheduleReconnect();
    });
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const socket = this.socket;
    this.socket = null;
    if (socket && socket.readyState !== WebSocket.CLOSED) socket.terminate();
  }

  private scheduleReconnect(): void {
    const base = this.options.reconnectDelayMs ?? 250;
    const max = this.options.maxReconnectDelayMs ?? 5_000;
    const delay = Math.min(max, base * 2 ** this.attempt++);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, delay);
  }

  private handle(raw: string): void {
    let payload: VitePayload;
    try {
      payload = JSON.parse(raw) as VitePayload;
    } catch {
      return;
    }
    const toPath = (p: string) => (this.options.toWorkspacePath ?? normalizeModulePath)(p);
    switch (payload.type) {
      case 'connected':
        this.options.onMessage({ type: 'connected' });
        return;
      case 'update': {
        const updates = payload.updates ?? [];
        const css = updates.every((u) => u.type === 'css-update' || isStyleModule(u.path));
        const kind: HmrUpdateKind = css ? 'css' : 'update';
        const paths = [...new Set(updates.map((u) => toPath(u.path)))];
        this.options.onMessage({ type: 'update', kind, paths });
        return;
      }
      case 'full-reload': {
        const source =
          payload.triggeredBy ?? (payload.path && payload.path !== '*' ? payload.path : undefined);
        this.options.onMessage({
          type: 'update',
          kind: 'full-reload',
          paths: source ? [toPath(source)] : [],
        });
        return;
      }
      case 'error': {
        const err = payload.err ?? {};
        const loc = err.loc ?? err.location;
        const file = loc?.file ?? err.id;
        this.options.onMessage({
          type: 'error',
          message: err.message ?? 'build error',
          file: file ? toPath(file) : undefined,
          line: loc?.line,
          column: loc?.column,
          frame: err.frame,
        });
        return;
      }
      default:
        return;
    }
  }
}

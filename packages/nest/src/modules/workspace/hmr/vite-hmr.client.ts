import WebSocket from 'ws';
import type { CompileError, HmrUpdateKind } from '@builder/shared';
import { DEV_SERVER_HOST_HEADER } from '../../../shared/runtime/dev-server.constants';

/** What the relay makes of one message of a Vite dev server's HMR socket. */
export type ViteHmrMessage =
  | { type: 'connected' }
  | { type: 'update'; kind: HmrUpdateKind; paths: string[] }
  | ({ type: 'error' } & CompileError)
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

/**
 * An error as Vite or Astro's dev server sends it. Vite's own carry `message`, `id`, `loc`,
 * `frame` and the `plugin` that failed; Astro's (a page that failed to render) carry `location`
 * and sometimes no `message`, only a `name` and `reason` (a CSS syntax error) or `title`.
 */
export interface ViteErrorPayload {
  message?: string;
  name?: string;
  reason?: string;
  text?: string;
  title?: string;
  id?: string;
  file?: string;
  frame?: string;
  plugin?: string;
  loc?: ErrorLocation;
  location?: ErrorLocation;
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
  err?: ViteErrorPayload;
}

/** Drops the query and the leading slash of a module URL: `/src/a.astro?astro&type=style` → `src/a.astro`. */
export function normalizeModulePath(path: string): string {
  return path.split('?')[0].replace(/^\/+/, '');
}

const HTML_ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  '#39': "'",
  '#x27': "'",
};

/**
 * A dev server's error payload as a {@link CompileError}: a workspace-relative file, 1-based line
 * and column, and a plain-text message (Astro writes its messages for its HTML overlay: markup and
 * entities are undone, `<code>x</code>` becomes `` `x` ``).
 */
export function toCompileError(err: ViteErrorPayload, toPath: (path: string) => string): CompileError {
  // Vite puts the position in `loc`; Astro's payloads may carry an empty `loc` and it in `location`.
  const loc = err.loc?.line !== undefined || err.loc?.file ? err.loc : (err.location ?? err.loc);
  const file = loc?.file || err.id || err.file;
  const raw =
    err.message ||
    (err.name && err.reason ? `${err.name}: ${err.reason}` : undefined) ||
    err.text ||
    err.title ||
    err.name ||
    'build error';
  const message = raw
    .replace(/<code>([\s\S]*?)<\/code>/g, '`$1`')
    .replace(/<[^>]+>/g, '')
    .replace(/&(amp|lt|gt|quot|#39|#x27);/g, (_, entity: string) => HTML_ENTITIES[entity]);
  return {
    message,
    file: file ? toPath(file) : undefined,
    line: loc?.line,
    // A plugin's error (a failed transform) counts columns from 0, Rollup's convention; an error
    // thrown while rendering comes from a stack trace, which counts from 1.
    column: loc?.column === undefined ? undefined : err.plugin ? loc.column + 1 : loc.column,
    frame: err.frame,
  };
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
    const socket = new WebSocket(`ws://${host}:${port}/`, 'vite-hmr', {
      handshakeTimeout: 5_000,
      headers: { host: DEV_SERVER_HOST_HEADER },
    });
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
      case 'error':
        this.options.onMessage({ type: 'error', ...toCompileError(payload.err ?? {}, toPath) });
        return;
      default:
        return;
    }
  }
}

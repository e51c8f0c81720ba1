import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Frame, Page, Route } from 'playwright-core';
import { waitFor } from './http';

/** Numbered screenshots of one run into `dir` (created). */
export function screenshots(dir: string): (page: Page, name: string) => Promise<void> {
  mkdirSync(dir, { recursive: true });
  let shot = 0;
  return async (page, name) => {
    await page.screenshot({ path: join(dir, `${String(++shot).padStart(2, '0')}-${name}.png`), fullPage: false });
  };
}

/** Registers a new user through the web app's sign-up form and lands on /builder. */
export async function signUp(page: Page, webUrl: string, onFilled?: () => Promise<void>): Promise<{ email: string }> {
  const email = `e2e-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.test`;
  await page.goto(`${webUrl}/login`);
  await page.fill('[data-testid="register-email"]', email);
  await page.fill('[data-testid="register-password"]', 'correct horse battery staple');
  await onFilled?.();
  await page.click('[data-testid="register-submit"]');
  await page.waitForURL('**/builder', { timeout: 30_000 });
  return { email };
}

/** The preview iframe's frame (found anew: the iframe is replaced on reload). */
export async function previewFrame(page: Page): Promise<Frame> {
  const handle = await page.locator('[data-testid="preview-iframe"]').elementHandle({ timeout: 60_000 });
  const frame = await handle!.contentFrame();
  if (!frame) throw new Error('the preview iframe has no frame');
  return frame;
}

/**
 * Counts the HMR sockets Vite's client opens in the page or its frames (it logs "[vite] connected"
 * once one is open): an edit made before its page's socket is open would be missed, by a test
 * faster than any person. `connected(n)` waits for the n-th.
 */
export function watchViteConnections(page: Page): { connected: (atLeast: number) => Promise<void> } {
  let connections = 0;
  page.on('console', (message) => {
    if (message.text().includes('[vite] connected')) connections++;
  });
  return {
    connected: async (atLeast) => {
      await waitFor(`Vite's HMR socket (connection ${atLeast})`, async () => (connections >= atLeast ? true : undefined), {
        timeoutMs: 60_000,
      });
    },
  };
}

export interface GatewayEvent {
  event: string;
  /** As the gateway sent it (the shared ServerToClientEvents types say what each one holds). */
  payload: any;
}

/**
 * What the API's Socket.IO gateway sent the page, read off the wire: every event frame received on
 * the page's websockets to `<api>/socket.io/`, in order. An event seen here reached the page
 * through the socket, whatever else the page fetched.
 */
export class GatewaySocketWatch {
  readonly events: GatewayEvent[] = [];
  private opened = 0;

  constructor(page: Page, apiUrl: string) {
    const endpoint = `${apiUrl.replace(/^http/, 'ws')}/socket.io/`;
    page.on('websocket', (socket) => {
      if (!socket.url().startsWith(endpoint)) return;
      this.opened++;
      socket.on('framereceived', ({ payload }) => {
        const event = parseSocketIoEvent(payload);
        if (event) this.events.push(event);
      });
    });
  }

  /** How many websockets the page opened to the gateway. */
  get socketsOpened(): number {
    return this.opened;
  }

  /** Waits for an event of that name whose payload `matches`; answers it. */
  async next(event: string, matches: (payload: any) => boolean, timeoutMs = 60_000): Promise<GatewayEvent> {
    return waitFor(
      `the gateway's "${event}" event on the page's socket`,
      async () => this.events.find((e) => e.event === event && matches(e.payload)),
      { timeoutMs },
    );
  }
}

/** A Socket.IO EVENT inside an Engine.IO message: `42/workspace,["name",{...}]` (namespace and ack id optional). */
function parseSocketIoEvent(frame: string | Buffer): GatewayEvent | undefined {
  if (typeof frame !== 'string') return undefined;
  const match = /^42(?:\/[^,[]*,)?\d*(\[[\s\S]*\])$/.exec(frame);
  if (!match) return undefined;
  const [event, payload] = JSON.parse(match[1]) as [string, any];
  return { event, payload };
}

/**
 * Refuses, from now on, every status read the page makes (the web app's fallback poll), counting
 * them: whatever reaches the page afterwards did not come from a status poll.
 */
export async function refuseStatusPolls(page: Page): Promise<{ refused: () => number; stop: () => Promise<void> }> {
  const STATUS = /\/api\/v1\/workspace\/[^/]+\/status(\?.*)?$/;
  let refused = 0;
  const handler = (route: Route) => {
    refused++;
    return route.abort('connectionrefused');
  };
  await page.route(STATUS, handler);
  return { refused: () => refused, stop: () => page.unroute(STATUS, handler) };
}

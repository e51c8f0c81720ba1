import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { createApp } from '../../src/main';

const STORE_PREFIX = 'builder-test-objects-';

/** Whether a process with this id still runs (signal 0 only checks). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A test process killed by the runner (a timeout, an interrupted run) never reaches its exit
 * handler, so each new store first removes the stores of test processes that no longer run: their
 * names carry the pid.
 */
function removeStoresOfDeadProcesses(): void {
  for (const name of readdirSync(tmpdir())) {
    const pid = name.startsWith(STORE_PREFIX) ? Number.parseInt(name.slice(STORE_PREFIX.length), 10) : 0;
    if (pid && !alive(pid)) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
}

/**
 * The project blob store of this test file's apps: one folder per test process (vitest runs each
 * file in its own), so every app of a file (they share its database) sees the same blobs, files
 * never share theirs, and nothing lands in the repository's data folder. Removed at exit.
 */
removeStoresOfDeadProcesses();
export const TEST_OBJECT_STORE_DIR = mkdtempSync(join(tmpdir(), `${STORE_PREFIX}${process.pid}-`));
process.once('exit', () => rmSync(TEST_OBJECT_STORE_DIR, { recursive: true, force: true }));

/** The real application, in-process, listening on a free loopback port. */
export interface TestApp {
  app: INestApplication;
  baseUrl: string;
  api: ApiClient;
  close(): Promise<void>;
}

/** Environment every test app gets unless the test overrides it. */
const BASE_ENV: Record<string, string | undefined> = {
  NODE_ENV: 'test',
  LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
  JWT_SECRET: 'test-secret-test-secret-test-secret-0123456789',
  PREVIEW_HOST: '127.0.0.1',
  OBJECT_STORE_DIR: TEST_OBJECT_STORE_DIR,
};

export async function startTestApp(env: Record<string, string | undefined>): Promise<TestApp> {
  const app = await createApp({ env: { ...BASE_ENV, ...env } });
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  const baseUrl = `http://127.0.0.1:${address.port}`;
  let closed = false;
  return {
    app,
    baseUrl,
    api: new ApiClient(baseUrl),
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
    },
  };
}

/** A registered user, as `ApiClient.newUser` answers it. */
export interface TestUser {
  email: string;
  password: string;
  token: string;
  userId: string;
}

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  text: string;
}

/** Thin fetch wrapper: JSON in, JSON (or text) out, never throws on HTTP errors. */
export class ApiClient {
  constructor(readonly baseUrl: string) {}

  async request<T = any>(
    method: string,
    path: string,
    options: {
      token?: string | null;
      body?: unknown;
      rawBody?: string;
      headers?: Record<string, string>;
    } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | undefined;
    if (options.rawBody !== undefined) {
      body = options.rawBody;
      headers['content-type'] ??= 'application/json';
    } else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    const response = await fetch(`${this.baseUrl}/api/v1${path}`, { method, headers, body });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, body: parsed as T, text };
  }

  /** Registers a fresh user and answers its token and id. */
  async newUser(prefix = 'user'): Promise<TestUser> {
    const email = `${prefix}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.com`;
    const password = 'correct horse battery';
    const registered = await this.request('POST', '/auth/register', { body: { email, password } });
    if (registered.status !== 201)
      throw new Error(`register failed: ${registered.status} ${registered.text}`);
    const me = await this.request('GET', '/auth/me', { token: registered.body.accessToken });
    return { email, password, token: registered.body.accessToken, userId: me.body.id };
  }

  /** Polls a session until it leaves `creating` (or the timeout passes); answers its last status. */
  async waitForSettled(token: string, id: string, timeoutMs = 120_000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.request('GET', `/workspace/${id}/status`, { token });
      if (status.status !== 200) throw new Error(`status of ${id}: ${status.status} ${status.text}`);
      if (status.body.status !== 'creating') return status.body;
      if (Date.now() > deadline) throw new Error(`session ${id} still creating after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Fetches a preview URL's page text (retrying briefly while the dev server warms up). */
export async function fetchPreview(
  url: string,
  timeoutMs = 10_000,
): Promise<{ status: number; text: string }> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(15_000) });
      return { status: response.status, text: await response.text() };
    } catch (error) {
      last = error;
      if (Date.now() > deadline) throw last;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Polls `check` until it answers true or the timeout passes; answers whether it did. */
export async function eventually(
  check: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 250,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export async function portIsBound(port: number): Promise<boolean> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(true));
    server.listen({ port, host: '0.0.0.0', exclusive: true }, () => server.close(() => resolve(false)));
  });
}

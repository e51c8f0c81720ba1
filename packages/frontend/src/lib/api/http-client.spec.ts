import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiError } from './api-error';
import { attachmentName, defaultSleep, HttpClient, type HttpClientOptions } from './http-client';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  body: string;
}

/**
 * A scripted API on 127.0.0.1: each request takes the next handler; the last one repeats. A new
 * server (a new port) per test, so fetch's pool never reuses a connection an earlier test cut.
 */
let server: Server;
let baseUrl: string;
let handlers: Handler[] = [];
let seen: Seen[] = [];

beforeEach(async () => {
  handlers = [];
  seen = [];
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization,
        body,
      });
      const handler = handlers.length > 1 ? handlers.shift()! : handlers[0];
      handler?.(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}): Handler =>
  (_req, res) => {
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
const dropConnection: Handler = (req) => req.socket.destroy();
const hang: Handler = () => undefined;

const errorBody = (statusCode: number, error: string, message: string) => ({
  statusCode,
  error,
  message,
  path: '/api/v1/x',
  timestamp: new Date(0).toISOString(),
});

/** A client whose backoff is recorded instead of waited for. */
function client(options: Partial<HttpClientOptions> = {}) {
  const sleeps: number[] = [];
  const http = new HttpClient({
    baseUrl,
    getToken: () => 'token-1',
    random: () => 1,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...options,
  });
  return { http, sleeps };
}

async function failure(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

describe('HttpClient', () => {
  it('sends JSON with the bearer token and parses the answer', async () => {
    handlers = [json(201, { id: 'w1' })];
    const { http } = client();

    const result = await http.request<{ id: string }>('/api/v1/workspace/create', {
      method: 'POST',
      body: { templateName: 't' },
    });

    expect(result).toEqual({ id: 'w1' });
    expect(seen).toEqual([
      {
        method: 'POST',
        url: '/api/v1/workspace/create',
        authorization: 'Bearer token-1',
        body: '{"templateName":"t"}',
      },
    ]);
  });

  it('leaves the token out when asked to and reads an empty 204 as undefined', async () => {
    handlers = [
      (_req, res) => {
        res.writeHead(204);
        res.end();
      },
    ];
    const { http } = client();

    await expect(http.request('/x', { method: 'DELETE', auth: false })).resolves.toBeUndefined();
    expect(seen[0]?.authorization).toBeUndefined();
  });

  it('retries a dropped connection with exponential backoff, then succeeds', async () => {
    handlers = [dropConnection, dropConnection, json(200, { ok: true })];
    const { http, sleeps } = client({ backoffBaseMs: 100, backoffMaxMs: 10_000 });

    await expect(http.request('/x')).resolves.toEqual({ ok: true });
    expect(seen).toHaveLength(3);
    expect(sleeps).toEqual([100, 200]);
  });

  it('retries a refused connection and gives up after the retry budget as a network error', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const { http, sleeps } = client({ baseUrl: `http://127.0.0.1:${port}`, retries: 2 });

    const error = await failure(http.request('/x'));

    expect(error.kind).toBe('network');
    expect(error.status).toBe(0);
    expect(sleeps).toHaveLength(2);
  });

  it('retries 503 and honours Retry-After', async () => {
    handlers = [
      json(503, errorBody(503, 'Service Unavailable', 'engine down'), { 'Retry-After': '2' }),
      json(503, errorBody(503, 'Service Unavailable', 'engine down')),
      json(200, { ok: true }),
    ];
    const { http, sleeps } = client({ backoffBaseMs: 100 });

    await expect(http.request('/x', { method: 'POST' })).resolves.toEqual({ ok: true });
    expect(seen).toHaveLength(3);
    expect(sleeps).toEqual([2_000, 200]);
  });

  it('does not retry a 400 and carries the server message', async () => {
    handlers = [json(400, errorBody(400, 'Bad Request', 'templateName must be a string'))];
    const { http, sleeps } = client();

    const error = await failure(http.request('/x', { method: 'POST', body: {} }));

    expect(error.kind).toBe('http');
    expect(error.status).toBe(400);
    expect(error.message).toBe('templateName must be a string');
    expect(error.body?.error).toBe('Bad Request');
    expect(seen).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it.each([401, 404, 429])('does not retry %i', async (status) => {
    handlers = [json(status, errorBody(status, 'Nope', `refused with ${status}`))];
    const { http } = client();

    const error = await failure(http.request('/x'));

    expect(error.status).toBe(status);
    expect(error.message).toBe(`refused with ${status}`);
    expect(error.isUnauthorized).toBe(status === 401);
    expect(error.isNotFound).toBe(status === 404);
    expect(seen).toHaveLength(1);
  });

  it('joins a list of validation messages and falls back to the status text without a JSON body', async () => {
    handlers = [
      json(400, {
        ...errorBody(400, 'Bad Request', ''),
        message: ['email must be an email', 'password too short'],
      }),
      (_req, res) => {
        res.writeHead(500, 'Internal Server Error', { 'Content-Type': 'text/html' });
        res.end('<h1>oops</h1>');
      },
    ];
    const { http } = client();

    expect((await failure(http.request('/x'))).message).toBe('email must be an email; password too short');
    const plain = await failure(http.request('/x'));
    expect(plain.status).toBe(500);
    expect(plain.message).toBe('Internal Server Error');
    expect(plain.body).toBeNull();
  });

  it('times out an attempt that gets no answer', async () => {
    handlers = [hang];
    const { http } = client({ timeoutMs: 50, retries: 0 });

    const error = await failure(http.request('/x'));

    expect(error.kind).toBe('timeout');
    expect(error.message).toContain('50 ms');
  });

  it('retries a timed-out GET but not a timed-out POST', async () => {
    handlers = [hang];
    const get = client({ timeoutMs: 30, retries: 2 });
    expect((await failure(get.http.request('/x'))).kind).toBe('timeout');
    expect(get.sleeps).toHaveLength(2);

    const post = client({ timeoutMs: 30, retries: 2 });
    expect((await failure(post.http.request('/x', { method: 'POST' }))).kind).toBe('timeout');
    expect(post.sleeps).toHaveLength(0);
  });

  it('cancels an attempt in flight through the caller signal', async () => {
    handlers = [hang];
    const { http } = client();
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 20);

    const error = await failure(http.request('/x', { signal: abort.signal }));

    expect(error.kind).toBe('aborted');
  });

  it('cancels the wait between retries, and does not start when already cancelled', async () => {
    handlers = [json(503, errorBody(503, 'Service Unavailable', 'engine down'))];
    const abort = new AbortController();
    const waits: number[] = [];
    const http = new HttpClient({
      baseUrl,
      backoffBaseMs: 60_000,
      backoffMaxMs: 60_000,
      // The real sleep, cancelled as soon as the client starts waiting.
      sleep: (ms, signal) => {
        waits.push(ms);
        const waiting = defaultSleep(ms, signal);
        abort.abort();
        return waiting;
      },
    });

    const started = Date.now();
    const error = await failure(http.request('/x', { signal: abort.signal }));

    expect(error.kind).toBe('aborted');
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeGreaterThanOrEqual(30_000);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(seen).toHaveLength(1);

    expect((await failure(http.request('/x', { signal: abort.signal }))).kind).toBe('aborted');
    expect(seen).toHaveLength(1);
  });

  it('downloads a binary answer whole, with the file name the server gave it', async () => {
    const bytes = Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0xff]);
    handlers = [
      (_req, res) => {
        res.writeHead(200, {
          'Content-Type': 'application/zip',
          'Content-Disposition': 'attachment; filename="spring-sale-v3.zip"',
        });
        res.end(bytes);
      },
    ];
    const { http } = client();

    const file = await http.download('/api/v1/projects/p1/export');

    expect(file.filename).toBe('spring-sale-v3.zip');
    expect(file.blob.type).toBe('application/zip');
    expect(Buffer.from(await file.blob.arrayBuffer())).toEqual(bytes);
    expect(seen[0]).toMatchObject({ method: 'GET', authorization: 'Bearer token-1' });
  });

  it('reads a failed download as the API error, retrying a 503 like any request', async () => {
    handlers = [
      json(503, errorBody(503, 'Service Unavailable', 'store down')),
      json(404, errorBody(404, 'Not Found', 'Project p1 not found')),
    ];
    const { http, sleeps } = client();

    const error = await failure(http.download('/api/v1/projects/p1/export'));

    expect(error).toMatchObject({ kind: 'http', status: 404, message: 'Project p1 not found' });
    expect(sleeps).toHaveLength(1);
  });

  it('reads the file name of an attachment header', () => {
    expect(attachmentName('attachment; filename="a b.zip"')).toBe('a b.zip');
    expect(attachmentName('attachment; filename=plain.tar.gz; size=3')).toBe('plain.tar.gz');
    expect(attachmentName('attachment')).toBeNull();
    expect(attachmentName(null)).toBeNull();
  });

  it('caps the backoff and spreads it with jitter', () => {
    const low = new HttpClient({ baseUrl, backoffBaseMs: 100, backoffMaxMs: 1_000, random: () => 0 });
    const high = new HttpClient({ baseUrl, backoffBaseMs: 100, backoffMaxMs: 1_000, random: () => 1 });
    expect([0, 1, 2, 3, 4, 5].map((n) => high.backoff(n))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    expect([0, 1, 2].map((n) => low.backoff(n))).toEqual([50, 100, 200]);
  });
});

import { ApiError } from './api-error';

/** The part of `fetch` the client uses; injectable so tests can swap it. */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/** Waits `ms`; rejects early when `signal` aborts. Injectable so tests need not wait. */
export type SleepFn = (ms: number, signal?: AbortSignal) => Promise<void>;

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface HttpClientOptions {
  /** API origin, e.g. `http://localhost:3000`. */
  baseUrl: string;
  /** Bearer token sent with authenticated requests; read on every request. */
  getToken?: () => string | null;
  fetch?: FetchLike;
  sleep?: SleepFn;
  /** Source of jitter in [0, 1). */
  random?: () => number;
  /** Retries after the first attempt. */
  retries?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Time limit of one attempt. */
  timeoutMs?: number;
}

/** Per-call options of every API function. */
export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  retries?: number;
}

export interface RequestOptions extends CallOptions {
  method?: HttpMethod;
  body?: unknown;
  /** Lets the request outlive the page (closing the tab). */
  keepalive?: boolean;
  /** Send the bearer token (default true). */
  auth?: boolean;
}

/** A file the API sent as an attachment. */
export interface DownloadedFile {
  blob: Blob;
  /** From `Content-Disposition`, when the server named the file. */
  filename: string | null;
}

export const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_RETRIES = 3;
const DEFAULT_BACKOFF_BASE_MS = 300;
const DEFAULT_BACKOFF_MAX_MS = 5_000;

// A timed-out POST may still have done its work on the server; repeating it could do it twice.
const IDEMPOTENT_METHODS: ReadonlySet<HttpMethod> = new Set(['GET', 'PUT', 'DELETE']);

export const defaultSleep: SleepFn = (ms, signal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * JSON over fetch with a bearer token, a time limit per attempt, cancellation, and retries with
 * exponential backoff on network failures and 503 (never on other 4xx/5xx answers).
 */
export class HttpClient {
  private readonly baseUrl: string;
  private readonly getToken: () => string | null;
  private readonly fetchImpl: FetchLike;
  private readonly sleep: SleepFn;
  private readonly random: () => number;
  private readonly retries: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly timeoutMs: number;

  constructor(options: HttpClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.getToken = options.getToken ?? (() => null);
    // Called through a wrapper: a detached `window.fetch` throws "Illegal invocation".
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.sleep = options.sleep ?? defaultSleep;
    this.random = options.random ?? Math.random;
    this.retries = options.retries ?? DEFAULT_RETRIES;
    this.backoffBaseMs = options.backoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS;
    this.backoffMaxMs = options.backoffMaxMs ?? DEFAULT_BACKOFF_MAX_MS;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  async request<T>(path: string, options: RequestOptions = {}): Promise<T> {
    return this.withRetries(path, options, async (response) => {
      const data = parseBody(await response.text());
      if (!response.ok) throw httpError(response, data);
      return data as T;
    });
  }

  /** A binary answer (an archive), read whole; errors still come as the API's JSON shape. */
  async download(path: string, options: RequestOptions = {}): Promise<DownloadedFile> {
    return this.withRetries(path, options, async (response) => {
      if (!response.ok) throw httpError(response, parseBody(await response.text()));
      return {
        blob: await response.blob(),
        filename: attachmentName(response.headers.get('content-disposition')),
      };
    });
  }

  private async withRetries<T>(
    path: string,
    options: RequestOptions,
    read: (response: Response) => Promise<T>,
  ): Promise<T> {
    const method = options.method ?? 'GET';
    const retries = options.retries ?? this.retries;
    for (let attempt = 0; ; attempt++) {
      throwIfAborted(options.signal);
      try {
        return await this.attempt(path, method, options, read);
      } catch (error) {
        if (!(error instanceof ApiError) || attempt >= retries || !isRetryable(error, method)) throw error;
        await this.pause(error.retryAfterMs ?? this.backoff(attempt), options.signal);
      }
    }
  }

  /** Full jitter over an exponentially growing window: spreads the retries of many tabs. */
  backoff(attempt: number): number {
    const window = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** attempt);
    return Math.round(window / 2 + (window / 2) * this.random());
  }

  private async pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
    try {
      await this.sleep(Math.min(ms, this.backoffMaxMs), signal);
    } catch (cause) {
      throw new ApiError('aborted', 0, 'Request was cancelled', { cause });
    }
  }

  private async attempt<T>(
    path: string,
    method: HttpMethod,
    options: RequestOptions,
    read: (response: Response) => Promise<T>,
  ): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const onCallerAbort = (): void => controller.abort();
    options.signal?.addEventListener('abort', onCallerAbort, { once: true });

    const failure = (cause: unknown): ApiError => {
      if (options.signal?.aborted) return new ApiError('aborted', 0, 'Request was cancelled', { cause });
      if (timedOut) return new ApiError('timeout', 0, `Request timed out after ${timeoutMs} ms`, { cause });
      const detail = cause instanceof Error ? cause.message : String(cause);
      return new ApiError('network', 0, `Could not reach the server (${detail})`, { cause });
    };

    try {
      let response: Response;
      try {
        response = await this.fetchImpl(this.baseUrl + path, {
          method,
          headers: this.headers(options),
          body: options.body === undefined ? undefined : JSON.stringify(options.body),
          signal: controller.signal,
          keepalive: options.keepalive,
          cache: 'no-store',
        });
      } catch (cause) {
        throw failure(cause);
      }

      try {
        return await read(response);
      } catch (cause) {
        // The body broke off (a network failure or the time limit), unless `read` judged the answer.
        throw cause instanceof ApiError ? cause : failure(cause);
      }
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onCallerAbort);
    }
  }

  private headers(options: RequestOptions): Record<string, string> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    const token = options.auth === false ? null : this.getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    return headers;
  }
}

function isRetryable(error: ApiError, method: HttpMethod): boolean {
  switch (error.kind) {
    case 'network':
      return true;
    case 'http':
      return error.status === 503;
    case 'timeout':
      return IDEMPOTENT_METHODS.has(method);
    case 'aborted':
      return false;
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new ApiError('aborted', 0, 'Request was cancelled', { cause: signal.reason });
}

function parseBody(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** The file name of `Content-Disposition: attachment; filename="…"`, the form the API sends. */
export function attachmentName(header: string | null): string | null {
  const match = header ? /filename\s*=\s*(?:"([^"]*)"|([^;]+))/i.exec(header) : null;
  return (match?.[1] ?? match?.[2])?.trim() || null;
}

function httpError(response: Response, body: unknown): ApiError {
  return ApiError.fromResponse(response.status, response.statusText, body, retryAfterMs(response));
}

function retryAfterMs(response: Response): number | null {
  const header = response.headers.get('retry-after');
  if (!header) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, date - Date.now());
}

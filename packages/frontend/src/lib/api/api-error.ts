import type { ApiErrorResponse } from '@builder/shared';

/**
 * Why a request failed: the server answered with an error status (`http`), no answer arrived
 * (`network`), the request ran past its time limit (`timeout`), or the caller cancelled it (`aborted`).
 */
export type ApiErrorKind = 'http' | 'network' | 'timeout' | 'aborted';

export interface ApiErrorOptions {
  cause?: unknown;
  /** Server's body, when it sent the standard error shape. */
  body?: ApiErrorResponse | null;
  /** Delay the server asked for in `Retry-After`. */
  retryAfterMs?: number | null;
}

/** Every failure of the API client. `status` is the HTTP status, or 0 when no response arrived. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly body: ApiErrorResponse | null;
  readonly retryAfterMs: number | null;

  constructor(
    readonly kind: ApiErrorKind,
    readonly status: number,
    message: string,
    options: ApiErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.body = options.body ?? null;
    this.retryAfterMs = options.retryAfterMs ?? null;
  }

  static fromResponse(
    status: number,
    statusText: string,
    body: unknown,
    retryAfterMs: number | null,
  ): ApiError {
    const parsed = toApiErrorResponse(body);
    const message = parsed?.message || statusText || `Request failed with status ${status}`;
    return new ApiError('http', status, message, { body: parsed, retryAfterMs });
  }

  get isUnauthorized(): boolean {
    return this.kind === 'http' && this.status === 401;
  }

  get isNotFound(): boolean {
    return this.kind === 'http' && this.status === 404;
  }
}

export function isAbortError(error: unknown): boolean {
  return error instanceof ApiError && error.kind === 'aborted';
}

/** A readable line for any thrown value. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : 'Unexpected error';
}

/** Any thrown value as an Error, for state that holds one. */
export function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(errorMessage(error));
}

function toApiErrorResponse(body: unknown): ApiErrorResponse | null {
  if (typeof body !== 'object' || body === null) return null;
  const candidate = body as Record<string, unknown>;
  if (typeof candidate.statusCode !== 'number') return null;
  // A validation pipe may send `message` as a list of violations.
  const message = Array.isArray(candidate.message) ? candidate.message.join('; ') : candidate.message;
  if (typeof message !== 'string') return null;
  return {
    statusCode: candidate.statusCode,
    error: typeof candidate.error === 'string' ? candidate.error : '',
    message,
    path: typeof candidate.path === 'string' ? candidate.path : '',
    timestamp: typeof candidate.timestamp === 'string' ? candidate.timestamp : '',
  };
}

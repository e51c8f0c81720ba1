import { STATUS_CODES } from 'node:http';
import type { ApiErrorResponse } from '@builder/shared';

/** The one JSON shape of every error answer. */
export function errorBody(statusCode: number, message: string, path: string): ApiErrorResponse {
  return {
    statusCode,
    error: STATUS_CODES[statusCode] ?? 'Error',
    message,
    path,
    timestamp: new Date().toISOString(),
  };
}

/**
 * Errors raised by the body parser before a route runs (malformed JSON, body too large, bad
 * charset). Returns null for anything else.
 */
export function bodyParserError(error: unknown): { status: number; message: string } | null {
  if (typeof error !== 'object' || error === null) return null;
  const { type, status, limit } = error as { type?: unknown; status?: unknown; limit?: unknown };
  if (typeof type !== 'string' || typeof status !== 'number') return null;
  switch (type) {
    case 'entity.parse.failed':
      return { status: 400, message: 'request body is not valid JSON' };
    case 'entity.too.large':
      return {
        status: 413,
        message: `request body is too large${typeof limit === 'number' ? ` (limit ${limit} bytes)` : ''}`,
      };
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return { status: 415, message: 'unsupported request body encoding; send UTF-8 JSON' };
    case 'request.aborted':
      return { status: 400, message: 'request body was aborted' };
    case 'request.size.invalid':
      return { status: 400, message: 'request body size does not match Content-Length' };
    default:
      return status >= 400 && status < 500 ? { status, message: 'request body could not be read' } : null;
  }
}

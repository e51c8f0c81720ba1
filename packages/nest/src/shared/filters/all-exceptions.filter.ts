import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, HttpStatus } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { httpStatusOf } from '../errors/error-status';
import { bodyParserError, errorBody } from './error-body';

/**
 * The one place an error becomes an HTTP answer: domain errors through {@link httpStatusOf},
 * Nest's HttpExceptions as they are, body-parser errors, and everything else as a logged 500
 * with a generic message. Never a stack trace in a response.
 */
/** What the filter reads of Express's request and response (no @types/express here). */
interface HttpRequest extends IncomingMessage {
  originalUrl?: string;
  params?: Record<string, unknown>;
}
interface HttpResponse {
  headersSent: boolean;
  status(code: number): HttpResponse;
  json(body: unknown): void;
  end(): void;
}

@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly log: Logger;

  constructor(logger: Logger) {
    this.log = logger.child({ context: 'HTTP' });
  }

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() === 'ws') {
      // Global filters also see socket handlers: answer like Nest's own WS filter, without internals.
      const status =
        httpStatusOf(exception) ?? (exception instanceof HttpException ? exception.getStatus() : 500);
      if (status >= 500 && httpStatusOf(exception) === null)
        this.log.error({ err: exception }, 'unexpected socket error');
      const message =
        status >= 500 && httpStatusOf(exception) === null
          ? 'internal server error'
          : (exception as Error).message;
      host
        .switchToWs()
        .getClient<{ emit(event: string, data: unknown): void }>()
        .emit('exception', { status: 'error', message });
      return;
    }
    if (host.getType() !== 'http') throw exception;
    const http = host.switchToHttp();
    const request = http.getRequest<HttpRequest>();
    const response = http.getResponse<HttpResponse>();
    const path = request.originalUrl ?? request.url ?? '';
    const { status, message } = this.describe(exception, request);
    if (response.headersSent) {
      response.end();
      return;
    }
    response.status(status).json(errorBody(status, message, path));
  }

  private describe(exception: unknown, request: HttpRequest): { status: number; message: string } {
    const domainStatus = httpStatusOf(exception);
    if (domainStatus !== null) {
      return { status: domainStatus, message: (exception as Error).message };
    }
    if (exception instanceof HttpException) {
      return { status: exception.getStatus(), message: httpExceptionMessage(exception) };
    }
    const parserError = bodyParserError(exception);
    if (parserError) return parserError;

    const sessionId = typeof request.params?.id === 'string' ? request.params.id : undefined;
    this.log.error(
      { err: exception, method: request.method, path: request.originalUrl, sessionId },
      'unexpected error',
    );
    return { status: HttpStatus.INTERNAL_SERVER_ERROR, message: 'internal server error' };
  }
}

/** ValidationPipe answers a list of messages; the API answers one string. */
function httpExceptionMessage(exception: HttpException): string {
  const response = exception.getResponse();
  if (typeof response === 'string') return response;
  const message = (response as { message?: unknown }).message;
  if (Array.isArray(message)) return message.map(String).join('; ');
  if (typeof message === 'string' && message) return message;
  return exception.message;
}

import { HttpStatus } from '@nestjs/common';
import {
  ImageUnavailableError,
  PortUnavailableError,
  RuntimeTimeoutError,
  RuntimeUnavailableError,
  UnknownTemplateError,
  WorkspaceFileError,
  WorkspaceInitError,
  WorkspaceNotFoundError as RuntimeWorkspaceNotFoundError,
  WorkspaceUnreachableError,
} from '../runtime/runtime.errors';
import { EmailTakenError } from './email-taken.error';
import { InvalidCredentialsError } from './invalid-credentials.error';
import { InvalidFileError } from './invalid-file.error';
import { InvalidTokenError } from './invalid-token.error';
import { InvalidWorkspacePathError } from './invalid-workspace-path.error';
import { PortsExhaustedError } from './ports-exhausted.error';
import { ProjectNotFoundError } from './project-not-found.error';
import { QuotaExceededError } from './quota-exceeded.error';
import { ServiceUnavailableError } from './service-unavailable.error';
import { SessionNotFoundError } from './session-not-found.error';
import { StorageLimitExceededError } from './storage-limit-exceeded.error';
import { VersionNotFoundError } from './version-not-found.error';
import { WorkspaceConflictError } from './workspace-conflict.error';
import { ObjectStoreUnavailableError } from '../storage/object-store.interface';

/**
 * The one mapping of domain and runtime errors to HTTP status codes. Anything not listed here
 * (and not an HttpException) is unexpected: 500 with a generic message.
 */
export function httpStatusOf(error: unknown): HttpStatus | null {
  if (error instanceof SessionNotFoundError) return HttpStatus.NOT_FOUND;
  if (error instanceof ProjectNotFoundError) return HttpStatus.NOT_FOUND;
  if (error instanceof VersionNotFoundError) return HttpStatus.NOT_FOUND;
  if (error instanceof ObjectStoreUnavailableError) return HttpStatus.SERVICE_UNAVAILABLE;
  if (error instanceof WorkspaceConflictError) return HttpStatus.CONFLICT;
  if (error instanceof QuotaExceededError) return HttpStatus.TOO_MANY_REQUESTS;
  if (error instanceof PortsExhaustedError) return HttpStatus.SERVICE_UNAVAILABLE;
  if (error instanceof ServiceUnavailableError) return HttpStatus.SERVICE_UNAVAILABLE;
  if (error instanceof InvalidWorkspacePathError) return HttpStatus.BAD_REQUEST;
  if (error instanceof InvalidFileError) return HttpStatus.BAD_REQUEST;
  if (error instanceof StorageLimitExceededError) return HttpStatus.PAYLOAD_TOO_LARGE;
  if (error instanceof EmailTakenError) return HttpStatus.CONFLICT;
  if (error instanceof InvalidCredentialsError) return HttpStatus.UNAUTHORIZED;
  if (error instanceof InvalidTokenError) return HttpStatus.UNAUTHORIZED;
  if (error instanceof RuntimeUnavailableError) return HttpStatus.SERVICE_UNAVAILABLE;
  if (error instanceof ImageUnavailableError) return HttpStatus.SERVICE_UNAVAILABLE;
  if (error instanceof RuntimeTimeoutError) return HttpStatus.SERVICE_UNAVAILABLE;
  if (error instanceof WorkspaceUnreachableError) return HttpStatus.SERVICE_UNAVAILABLE;
  if (error instanceof UnknownTemplateError) return HttpStatus.BAD_REQUEST;
  if (error instanceof PortUnavailableError) return HttpStatus.CONFLICT;
  if (error instanceof WorkspaceInitError) return HttpStatus.SERVICE_UNAVAILABLE;
  // The session exists but its container/process is gone (e.g. removed from outside).
  if (error instanceof RuntimeWorkspaceNotFoundError) return HttpStatus.CONFLICT;
  if (error instanceof WorkspaceFileError) {
    switch (error.reason) {
      case 'not-found':
        return HttpStatus.NOT_FOUND;
      case 'not-a-file':
      case 'outside':
      case 'too-large':
        return HttpStatus.BAD_REQUEST;
      // The workspace's own file system is full (its kernel-enforced limit).
      case 'no-space':
        return HttpStatus.PAYLOAD_TOO_LARGE;
    }
  }
  return null;
}

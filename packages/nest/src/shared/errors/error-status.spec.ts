import { HttpStatus } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import {
  ImageUnavailableError,
  RuntimeTimeoutError,
  RuntimeUnavailableError,
  WorkspaceFileError,
} from '../runtime/runtime.errors';
import { bodyParserError } from '../filters/error-body';
import { httpStatusOf } from './error-status';
import { InvalidWorkspacePathError } from './invalid-workspace-path.error';
import { PortsExhaustedError } from './ports-exhausted.error';
import { QuotaExceededError } from './quota-exceeded.error';
import { SessionNotFoundError } from './session-not-found.error';
import { StorageLimitExceededError } from './storage-limit-exceeded.error';
import { WorkspaceConflictError } from './workspace-conflict.error';

describe('httpStatusOf', () => {
  it.each([
    [new SessionNotFoundError('x'), HttpStatus.NOT_FOUND],
    [new WorkspaceConflictError('x'), HttpStatus.CONFLICT],
    [new QuotaExceededError(3), HttpStatus.TOO_MANY_REQUESTS],
    [new PortsExhaustedError(8000, 8100), HttpStatus.SERVICE_UNAVAILABLE],
    [new RuntimeUnavailableError('down'), HttpStatus.SERVICE_UNAVAILABLE],
    [new ImageUnavailableError('img', 'gone'), HttpStatus.SERVICE_UNAVAILABLE],
    [new RuntimeTimeoutError('create', 1000), HttpStatus.SERVICE_UNAVAILABLE],
    [new InvalidWorkspacePathError('..'), HttpStatus.BAD_REQUEST],
    [new WorkspaceFileError('missing', 'not-found'), HttpStatus.NOT_FOUND],
    [new WorkspaceFileError('link out', 'outside'), HttpStatus.BAD_REQUEST],
    [new WorkspaceFileError('disk full', 'no-space'), HttpStatus.PAYLOAD_TOO_LARGE],
    [new StorageLimitExceededError(1024, 1000, 100), HttpStatus.PAYLOAD_TOO_LARGE],
    [new Error('boom'), null],
    ['not an error', null],
  ])('%s → %s', (error, status) => {
    expect(httpStatusOf(error)).toBe(status);
  });

  it('the storage message names the limit and the current use, in MiB', () => {
    expect(new StorageLimitExceededError(1024 * 1024 * 1024, 1023.5 * 1024 * 1024, 40 * 1024).message).toBe(
      "storage limit exceeded: the workspace's files use 1023.5 MiB of 1024 MiB and this write adds 40 KiB; delete files or write less",
    );
  });

  it('the quota message names the limit', () => {
    expect(new QuotaExceededError(3).message).toMatch(/at most 3 active workspace sessions per user/);
  });
});

describe('bodyParserError', () => {
  it('maps malformed JSON to 400 and oversized bodies to 413', () => {
    expect(bodyParserError({ type: 'entity.parse.failed', status: 400 })).toEqual({
      status: 400,
      message: 'request body is not valid JSON',
    });
    expect(bodyParserError({ type: 'entity.too.large', status: 413, limit: 10 })?.status).toBe(413);
    expect(bodyParserError(new Error('other'))).toBeNull();
  });
});

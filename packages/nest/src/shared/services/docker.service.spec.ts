import { describe, expect, it } from 'vitest';
import { dockerErrorMessage, dockerStatusCode } from './docker.service';

function apiError(statusCode: number, message: string, json: unknown): Error {
  return Object.assign(new Error(message), { statusCode, json });
}

describe('Docker API error helpers', () => {
  it('reads the engine message from JSON answers', () => {
    const error = apiError(409, '(HTTP code 409) unexpected - Conflict', {
      message: 'Conflict. The container name is already in use',
    });
    expect(dockerStatusCode(error)).toBe(409);
    expect(dockerErrorMessage(error)).toBe('Conflict. The container name is already in use');
  });

  it("strips dockerode's prefix from streamed answers, which carry no JSON", () => {
    const missingPath = apiError(
      404,
      '(HTTP code 404) no such container - Could not find the file /app/x in container abc',
      null,
    );
    expect(dockerErrorMessage(missingPath)).toBe('Could not find the file /app/x in container abc');
    const missingContainer = apiError(
      404,
      '(HTTP code 404) no such container - No such container: abc ',
      null,
    );
    expect(dockerErrorMessage(missingContainer)).toBe('No such container: abc');
  });

  it('leaves other errors as they are', () => {
    expect(dockerStatusCode(new Error('connect ENOENT'))).toBeUndefined();
    expect(dockerErrorMessage(new Error('connect ENOENT /x.sock'))).toBe('connect ENOENT /x.sock');
    expect(dockerErrorMessage('text')).toBe('text');
  });
});

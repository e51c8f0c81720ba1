/** The engine (Docker daemon) does not answer. Maps to 503. */
export class RuntimeUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RuntimeUnavailableError';
  }
}

/** The runtime does not know this workspace. */
export class WorkspaceNotFoundError extends Error {
  constructor(id: string) {
    super(`workspace ${id} does not exist in the runtime`);
    this.name = 'WorkspaceNotFoundError';
  }
}

/**
 * The runtime knows the workspace but cannot reach it right now (its task is not running yet, or
 * its node is gone): no answer from it over the network. Maps to 503.
 */
export class WorkspaceUnreachableError extends Error {
  constructor(id: string, detail: string, options?: { cause?: unknown }) {
    super(`workspace ${id} does not answer over its network (${detail})`, options);
    this.name = 'WorkspaceUnreachableError';
  }
}

/** The image is neither present nor pullable. */
export class ImageUnavailableError extends Error {
  constructor(image: string, reason: string) {
    super(`image ${image} is not available: ${reason}`);
    this.name = 'ImageUnavailableError';
  }
}

/** A runtime operation did not finish in time. */
export class RuntimeTimeoutError extends Error {
  constructor(operation: string, timeoutMs: number) {
    super(`${operation} did not finish within ${timeoutMs} ms`);
    this.name = 'RuntimeTimeoutError';
  }
}

/** A file path or file the runtime refuses (not found, not a regular file, outside the workspace). */
export class WorkspaceFileError extends Error {
  constructor(
    message: string,
    readonly reason: 'not-found' | 'not-a-file' | 'outside' | 'too-large' | 'no-space',
  ) {
    super(message);
    this.name = 'WorkspaceFileError';
  }
}

/** The host port a workspace should publish its dev server on is taken. Maps to 409. */
export class PortUnavailableError extends Error {
  constructor(
    readonly port: number,
    detail: string,
  ) {
    super(`host port ${port} is not available: ${detail}`);
    this.name = 'PortUnavailableError';
  }
}

/** No template has this name. Maps to 400. */
export class UnknownTemplateError extends Error {
  constructor(
    readonly templateName: string,
    known: readonly string[],
  ) {
    super(`unknown template "${templateName}" (known: ${known.join(', ')})`);
    this.name = 'UnknownTemplateError';
  }
}

/** A workspace could not be made ready: dependencies failed to install or the dev server never answered. */
export class WorkspaceInitError extends Error {
  constructor(
    message: string,
    readonly reason: 'install-failed' | 'exited' | 'not-ready',
  ) {
    super(message);
    this.name = 'WorkspaceInitError';
  }
}

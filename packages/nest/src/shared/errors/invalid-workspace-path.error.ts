/** A file path outside the workspace, malformed, or in a place that may not be written. 400. */
export class InvalidWorkspacePathError extends Error {
  constructor(reason: string) {
    super(`invalid workspace path: ${reason}`);
    this.name = 'InvalidWorkspacePathError';
  }
}

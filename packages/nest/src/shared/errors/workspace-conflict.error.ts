/** The session is not in a state that allows the operation (e.g. files of a stopped session). 409. */
export class WorkspaceConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkspaceConflictError';
  }
}

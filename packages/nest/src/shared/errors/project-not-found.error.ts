/** No project with this id belongs to the caller (another user's project answers the same). 404. */
export class ProjectNotFoundError extends Error {
  constructor(readonly projectId: string) {
    super(`project ${projectId} not found`);
    this.name = 'ProjectNotFoundError';
  }
}

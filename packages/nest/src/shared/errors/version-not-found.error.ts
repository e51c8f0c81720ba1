/** No version (or no file of a version) with this id or path in the caller's project. 404. */
export class VersionNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VersionNotFoundError';
  }
}

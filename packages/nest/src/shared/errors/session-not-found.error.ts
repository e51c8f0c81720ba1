/** No session with this id belongs to the caller (another user's session answers the same). 404. */
export class SessionNotFoundError extends Error {
  constructor(readonly sessionId: string) {
    super(`workspace session ${sessionId} not found`);
    this.name = 'SessionNotFoundError';
  }
}

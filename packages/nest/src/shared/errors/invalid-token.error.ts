/** Missing, malformed, expired or forged access token. 401. */
export class InvalidTokenError extends Error {
  constructor(message = 'a valid access token is required (Authorization: Bearer <token>)') {
    super(message);
    this.name = 'InvalidTokenError';
  }
}

/** The backend cannot take the request now (e.g. it is shutting down). 503. */
export class ServiceUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServiceUnavailableError';
  }
}

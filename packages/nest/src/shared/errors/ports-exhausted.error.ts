/** Every preview port of the range is held by an active session or another program. 503. */
export class PortsExhaustedError extends Error {
  constructor(start: number, end: number) {
    super(`no preview port free in ${start}-${end}; try again when a session ends`);
    this.name = 'PortsExhaustedError';
  }
}

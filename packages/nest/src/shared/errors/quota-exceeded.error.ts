/** The user already holds as many active sessions as allowed. 429. */
export class QuotaExceededError extends Error {
  constructor(readonly limit: number) {
    super(
      `session limit reached: at most ${limit} active workspace session${limit === 1 ? '' : 's'} per user; ` +
        'delete one before creating another',
    );
    this.name = 'QuotaExceededError';
  }
}

/**
 * The state a controller outside React shows: a snapshot replaced (never mutated) on every change,
 * and the listeners told of it. Once closed it changes no more and tells no one.
 */
export class SnapshotStore<S extends object> {
  private snapshot: S;
  private readonly listeners = new Set<() => void>();
  private closed = false;

  constructor(initial: S) {
    this.snapshot = initial;
  }

  get = (): S => this.snapshot;

  /** Listens to changes; returns the function that stops listening. */
  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  update(patch: Partial<S>): void {
    if (this.closed) return;
    this.snapshot = { ...this.snapshot, ...patch };
    for (const listener of [...this.listeners]) listener();
  }

  close(): void {
    this.closed = true;
    this.listeners.clear();
  }
}

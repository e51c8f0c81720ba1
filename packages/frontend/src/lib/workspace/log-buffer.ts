import type { LogEvent } from '@builder/shared';
import { SnapshotStore } from '@/lib/lifecycle/snapshot-store';

/** What a console shows of a dev server's output. Replaced, never mutated. */
export interface LogSnapshot {
  /** Oldest first. */
  lines: readonly LogEvent[];
  /** Lines let go, oldest first, to stay within the capacity (cleared ones do not count). */
  dropped: number;
}

/**
 * The last `capacity` lines of one session's output. The gateway replays its last lines to every
 * (re-)subscription, with their first time stamps: a line older than the newest one held was seen
 * already (or cleared, or let go) and is skipped, as is a copy of one from the same instant.
 */
export class LogBuffer {
  private lines: LogEvent[] = [];
  private dropped = 0;
  private newest = '';

  constructor(private readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('capacity must be a positive integer');
  }

  /** Adds a line; false when it was a replay of one already seen. */
  push(event: LogEvent): boolean {
    if (event.at < this.newest) return false;
    if (event.at === this.newest && this.lines.some((l) => sameLine(l, event))) return false;
    this.newest = event.at;
    this.lines.push(event);
    const over = this.lines.length - this.capacity;
    if (over > 0) {
      this.lines.splice(0, over);
      this.dropped += over;
    }
    return true;
  }

  /** Empties the buffer; replays of what it held stay skipped. */
  clear(): void {
    this.lines = [];
    this.dropped = 0;
  }

  snapshot(): LogSnapshot {
    return { lines: [...this.lines], dropped: this.dropped };
  }
}

function sameLine(a: LogEvent, b: LogEvent): boolean {
  return a.at === b.at && a.stream === b.stream && a.line === b.line;
}

export const EMPTY_LOG_SNAPSHOT: LogSnapshot = { lines: [], dropped: 0 };

/** A session's output for a console to show: a {@link LogBuffer} whose changes are told to listeners. */
export class LogFeed {
  private buffer: LogBuffer;
  private readonly store = new SnapshotStore<LogSnapshot>(EMPTY_LOG_SNAPSHOT);

  constructor(private readonly capacity: number) {
    this.buffer = new LogBuffer(capacity);
  }

  getSnapshot = (): LogSnapshot => this.store.get();

  /** Listens to changes; returns the function that stops listening. */
  subscribe = (listener: () => void): (() => void) => this.store.subscribe(listener);

  push(event: LogEvent): void {
    if (this.buffer.push(event)) this.store.update(this.buffer.snapshot());
  }

  /** Empties the console; the gateway's replays of what it showed stay out. */
  clear = (): void => {
    this.buffer.clear();
    this.store.update(this.buffer.snapshot());
  };

  /** Starts over for another session (or none). */
  reset(): void {
    this.buffer = new LogBuffer(this.capacity);
    this.store.update(EMPTY_LOG_SNAPSHOT);
  }

  close(): void {
    this.store.close();
  }
}

import type { LogEvent } from '@builder/shared';
import { describe, expect, it, vi } from 'vitest';
import { LogBuffer, LogFeed } from './log-buffer';

const at = (second: number): string => new Date(Date.UTC(2024, 0, 1, 0, 0, second)).toISOString();
const line = (text: string, second: number, stream: LogEvent['stream'] = 'stdout'): LogEvent => ({
  sessionId: 's1',
  stream,
  line: text,
  at: at(second),
});

describe('LogBuffer', () => {
  it('keeps the last lines up to its capacity and counts the ones let go', () => {
    const buffer = new LogBuffer(3);
    for (let i = 0; i < 5; i++) buffer.push(line(`l${i}`, i));
    const { lines, dropped } = buffer.snapshot();
    expect(lines.map((l) => l.line)).toEqual(['l2', 'l3', 'l4']);
    expect(dropped).toBe(2);
  });

  it("skips the gateway's replay of lines it holds, and keeps the ones after them", () => {
    const buffer = new LogBuffer(10);
    const first = [line('a', 1), line('b', 2), line('c', 2, 'stderr')];
    first.forEach((l) => buffer.push(l));
    // A reconnection: the gateway replays its last lines, then new ones follow.
    const replayed = [...first, line('d', 3)].map((l) => buffer.push({ ...l }));
    expect(replayed).toEqual([false, false, false, true]);
    expect(buffer.snapshot().lines.map((l) => l.line)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('keeps distinct lines of one instant', () => {
    const buffer = new LogBuffer(10);
    expect(buffer.push(line('x', 1))).toBe(true);
    expect(buffer.push(line('y', 1))).toBe(true);
    expect(buffer.push(line('x', 1, 'stderr'))).toBe(true);
    expect(buffer.snapshot().lines).toHaveLength(3);
  });

  it('stays empty after a clear when what it held is replayed', () => {
    const buffer = new LogBuffer(10);
    buffer.push(line('a', 1));
    buffer.push(line('b', 2));
    buffer.clear();
    expect(buffer.push(line('a', 1))).toBe(false);
    expect(buffer.push(line('c', 3))).toBe(true);
    expect(buffer.snapshot()).toEqual({ lines: [line('c', 3)], dropped: 0 });
  });

  it('refuses a capacity that holds nothing', () => {
    expect(() => new LogBuffer(0)).toThrow(RangeError);
  });
});

describe('LogFeed', () => {
  it('tells its listeners of new lines only, of a clear, and starts over on reset', () => {
    const feed = new LogFeed(2);
    const listener = vi.fn();
    feed.subscribe(listener);
    feed.push(line('a', 1));
    feed.push(line('a', 1));
    expect(listener).toHaveBeenCalledTimes(1);
    feed.push(line('b', 2));
    feed.push(line('c', 3));
    expect(feed.getSnapshot()).toEqual({ lines: [line('b', 2), line('c', 3)], dropped: 1 });

    feed.clear();
    expect(feed.getSnapshot().lines).toEqual([]);
    feed.reset();
    // Another session's lines may be older than the last one's.
    feed.push(line('z', 0));
    expect(feed.getSnapshot().lines.map((l) => l.line)).toEqual(['z']);
  });
});

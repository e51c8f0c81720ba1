'use client';

import { useEffect, useLayoutEffect, useRef } from 'react';
import { useDevServerLogs } from '@/hooks/useDevServerLogs';
import type { LogFeed } from '@/lib/workspace/log-buffer';

// Within this many pixels of the bottom counts as "at the bottom": new lines keep it there.
const STICK_PX = 24;

/**
 * The dev server's output for the open session, live. Follows new lines while scrolled to the
 * bottom; scrolled up, it stays where the reader is.
 */
export function ConsolePanel({ feed }: { feed: LogFeed | null }) {
  const { lines, dropped } = useDevServerLogs(feed);
  const scrollRef = useRef<HTMLDivElement>(null);
  const stickRef = useRef(true);

  const toBottom = (): void => {
    const box = scrollRef.current;
    if (box && stickRef.current) box.scrollTop = box.scrollHeight;
  };

  useLayoutEffect(toBottom, [lines]);

  // Shown after being hidden (another tab was open), the box gets its size back: follow again.
  useEffect(() => {
    const box = scrollRef.current;
    if (!box || typeof ResizeObserver === 'undefined') return;
    const observer = new ResizeObserver(toBottom);
    observer.observe(box);
    return () => observer.disconnect();
  }, []);

  const onScroll = (): void => {
    const box = scrollRef.current;
    // A hidden box has no size; its scroll events say nothing of the reader.
    if (!box || box.clientHeight === 0) return;
    stickRef.current = box.scrollHeight - box.scrollTop - box.clientHeight <= STICK_PX;
  };

  return (
    <section className="flex flex-col gap-2" aria-label="Console">
      <div className="flex items-center justify-between">
        <h2 className="text-xs font-semibold uppercase tracking-wide text-gray-500">Console</h2>
        <button
          type="button"
          onClick={() => {
            stickRef.current = true;
            feed?.clear();
          }}
          disabled={!feed || lines.length === 0}
          className="rounded-md border border-gray-300 px-2 py-0.5 text-xs text-gray-700 hover:bg-gray-50 disabled:opacity-50"
          data-testid="console-clear"
        >
          Clear
        </button>
      </div>
      <div
        ref={scrollRef}
        onScroll={onScroll}
        role="log"
        aria-label="Dev server output"
        aria-live="polite"
        tabIndex={0}
        className="h-[28rem] overflow-auto rounded-md bg-gray-950 p-2 font-mono text-[11px] leading-5 text-gray-100"
        data-testid="console-output"
      >
        {dropped > 0 && <p className="text-gray-500">… {dropped} earlier lines not kept</p>}
        {lines.length === 0 ? (
          <p className="text-gray-500">No output yet.</p>
        ) : (
          lines.map((line, index) => (
            <p
              key={`${line.at}-${index + dropped}`}
              className={`whitespace-pre-wrap break-all ${line.stream === 'stderr' ? 'text-red-300' : ''}`}
              data-stream={line.stream}
            >
              {line.line}
            </p>
          ))
        )}
      </div>
    </section>
  );
}

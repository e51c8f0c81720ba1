'use client';

import { useSyncExternalStore } from 'react';
import { EMPTY_LOG_SNAPSHOT, type LogFeed, type LogSnapshot } from '@/lib/workspace/log-buffer';

const NO_FEED = {
  subscribe: () => () => undefined,
  getSnapshot: () => EMPTY_LOG_SNAPSHOT,
};

/** The lines a {@link LogFeed} holds, kept up to date. */
export function useDevServerLogs(feed: LogFeed | null): LogSnapshot {
  const source = feed ?? NO_FEED;
  return useSyncExternalStore(source.subscribe, source.getSnapshot, () => EMPTY_LOG_SNAPSHOT);
}

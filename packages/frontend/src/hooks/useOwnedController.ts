'use client';

import { useCallback, useEffect, useRef, useState } from 'react';
import { createDeferredOwner, type DeferredOwner } from '@/lib/lifecycle/deferred-owner';

/** A controller that lives outside React and tells its listeners when its snapshot changes. */
export interface SnapshotController<S> {
  getSnapshot(): S;
  subscribe(listener: () => void): () => void;
  dispose(): void;
}

/**
 * A controller made on the first mount, kept through StrictMode's remount, disposed on unmount,
 * with its snapshot as React state. Answers the snapshot and a stable getter of the controller
 * (null before the first effect and after the unmount).
 */
export function useOwnedController<S, C extends SnapshotController<S>>(
  create: () => C,
  empty: S,
): [S, () => C | null] {
  const [snapshot, setSnapshot] = useState<S>(empty);
  const ownerRef = useRef<DeferredOwner<C> | null>(null);
  ownerRef.current ??= createDeferredOwner<C>(create, (controller) => controller.dispose());

  useEffect(() => {
    const owner = ownerRef.current!;
    const controller = owner.acquire();
    const stopListening = controller.subscribe(() => setSnapshot(controller.getSnapshot()));
    setSnapshot(controller.getSnapshot());
    return () => {
      stopListening();
      owner.release();
    };
  }, []);

  const controller = useCallback(() => ownerRef.current?.current ?? null, []);
  return [snapshot, controller];
}

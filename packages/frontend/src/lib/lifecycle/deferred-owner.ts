/** A resource shared by reference count and disposed a tick after the last release. */
export interface DeferredOwner<T> {
  /** Returns the resource, creating it if there is none; cancels a pending disposal. */
  acquire(): T;
  /** Gives one reference back; the last one disposes the resource unless it is taken again first. */
  release(): void;
  /** The resource, if one exists. */
  readonly current: T | null;
}

/**
 * React StrictMode (and Fast Refresh) run an effect's cleanup and then the effect again at once.
 * Deferring the disposal by a tick lets that remount take the same resource back, so a workspace
 * or a socket is not created twice, while a real unmount still disposes it.
 */
export function createDeferredOwner<T>(
  create: () => T,
  dispose: (resource: T) => void,
  defer: (run: () => void) => () => void = (run) => {
    const timer = setTimeout(run, 0);
    return () => clearTimeout(timer);
  },
): DeferredOwner<T> {
  let resource: T | null = null;
  let refs = 0;
  let cancelDisposal: (() => void) | null = null;

  return {
    acquire() {
      cancelDisposal?.();
      cancelDisposal = null;
      resource ??= create();
      refs += 1;
      return resource;
    },
    release() {
      if (refs === 0) return;
      refs -= 1;
      if (refs > 0 || cancelDisposal) return;
      cancelDisposal = defer(() => {
        cancelDisposal = null;
        if (refs > 0 || resource === null) return;
        const disposed = resource;
        resource = null;
        dispose(disposed);
      });
    },
    get current() {
      return resource;
    },
  };
}

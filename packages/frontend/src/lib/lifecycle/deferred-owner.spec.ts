import { describe, expect, it } from 'vitest';
import { createDeferredOwner } from './deferred-owner';

/** Deferral under the test's control instead of a real tick. */
function manualDefer() {
  const queue: Array<() => void> = [];
  const defer = (run: () => void) => {
    queue.push(run);
    return () => {
      const index = queue.indexOf(run);
      if (index >= 0) queue.splice(index, 1);
    };
  };
  const flush = () => {
    for (const run of queue.splice(0)) run();
  };
  return { defer, flush, pending: () => queue.length };
}

function owner() {
  const log: string[] = [];
  let next = 0;
  const { defer, flush, pending } = manualDefer();
  const deferred = createDeferredOwner(
    () => {
      const id = `r${++next}`;
      log.push(`create ${id}`);
      return id;
    },
    (id) => log.push(`dispose ${id}`),
    defer,
  );
  return { deferred, log, flush, pending };
}

describe('createDeferredOwner', () => {
  it('keeps the resource across a StrictMode unmount + remount', () => {
    const { deferred, log, flush } = owner();

    expect(deferred.acquire()).toBe('r1');
    deferred.release();
    expect(deferred.acquire()).toBe('r1');
    flush();

    expect(log).toEqual(['create r1']);
    expect(deferred.current).toBe('r1');
  });

  it('disposes after a real unmount, and creates anew on the next mount', () => {
    const { deferred, log, flush } = owner();

    deferred.acquire();
    deferred.release();
    expect(log).toEqual(['create r1']);
    flush();
    expect(log).toEqual(['create r1', 'dispose r1']);
    expect(deferred.current).toBeNull();

    expect(deferred.acquire()).toBe('r2');
  });

  it('counts references: only the last release schedules the disposal', () => {
    const { deferred, log, flush, pending } = owner();

    deferred.acquire();
    deferred.acquire();
    deferred.release();
    expect(pending()).toBe(0);
    deferred.release();
    deferred.release();
    expect(pending()).toBe(1);
    flush();

    expect(log).toEqual(['create r1', 'dispose r1']);
  });

  it('disposes with a real tick by default', async () => {
    const log: string[] = [];
    const deferred = createDeferredOwner(
      () => 'r',
      (r) => log.push(`dispose ${r}`),
    );
    deferred.acquire();
    deferred.release();
    expect(log).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(log).toEqual(['dispose r']);
  });
});

import { describe, expect, it } from 'vitest';
import { StartQueue } from './start-queue';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('StartQueue', () => {
  it('runs at most `concurrency` jobs and reports positions of the others', async () => {
    const gates = [deferred(), deferred(), deferred(), deferred()];
    const started: string[] = [];
    const announced: Array<Map<string, number>> = [];
    const queue = new StartQueue(2, (positions) => announced.push(positions));
    const positions = ['a', 'b', 'c', 'd'].map((id, i) =>
      queue.enqueue(id, async () => {
        started.push(id);
        await gates[i].promise;
      }),
    );
    expect(positions).toEqual([0, 0, 1, 2]);
    expect(started).toEqual(['a', 'b']);
    expect(queue.position('d')).toBe(2);
    expect(queue.position('a')).toBeNull();

    gates[0].resolve();
    await tick();
    expect(started).toEqual(['a', 'b', 'c']);
    expect(queue.position('d')).toBe(1);
    expect(announced.at(-1)).toEqual(new Map([['d', 1]]));

    expect(queue.cancel('d')).toBe(true);
    gates[1].resolve();
    gates[2].resolve();
    await queue.settle(1000);
    expect(started).toEqual(['a', 'b', 'c']);
  });

  it('keeps going when a job throws', async () => {
    const queue = new StartQueue(1);
    const done: string[] = [];
    queue.enqueue('x', () => Promise.reject(new Error('boom')));
    queue.enqueue('y', async () => {
      done.push('y');
    });
    await tick();
    await queue.settle(1000);
    expect(done).toEqual(['y']);
  });

  it('close() answers the ids that never started', () => {
    const queue = new StartQueue(1);
    queue.enqueue('a', () => new Promise(() => undefined));
    queue.enqueue('b', async () => undefined);
    expect(queue.close()).toEqual(['b']);
    expect(() => queue.enqueue('c', async () => undefined)).toThrow('closed');
  });

  it('takes a session again while its previous job is still winding down', async () => {
    const gate = deferred();
    const queue = new StartQueue(2);
    queue.enqueue('a', () => gate.promise);
    expect(queue.isRunning('a')).toBe(true);
    expect(queue.enqueue('a', async () => undefined)).toBe(0);
    gate.resolve();
    await queue.settle(1000);
    expect(queue.isRunning('a')).toBe(false);
  });

  it('never makes a user start wait for a background job, and runs background jobs only on idle slots', async () => {
    const gates = { p1: deferred(), p2: deferred(), u1: deferred(), u2: deferred() };
    const started: string[] = [];
    const queue = new StartQueue(1);
    const job = (id: keyof typeof gates) => async () => {
      started.push(id);
      await gates[id].promise;
    };
    expect(queue.enqueue('p1', job('p1'), 'background')).toBe(0);
    expect(queue.enqueue('p2', job('p2'), 'background')).toBe(1);
    // The refill p1 holds the only slot: the user start runs beside it anyway.
    expect(queue.enqueue('u1', job('u1'))).toBe(0);
    expect(queue.enqueue('u2', job('u2'))).toBe(1);
    expect(queue.position('p2')).toBeNull();
    expect(started).toEqual(['p1', 'u1']);

    gates.p1.resolve();
    await tick();
    expect(started).toEqual(['p1', 'u1']); // p2 waits while a user start waits
    gates.u1.resolve();
    await tick();
    expect(started).toEqual(['p1', 'u1', 'u2']);
    gates.u2.resolve();
    await tick();
    await tick();
    expect(started).toEqual(['p1', 'u1', 'u2', 'p2']);
    gates.p2.resolve();
    await queue.settle(1000);
  });
});

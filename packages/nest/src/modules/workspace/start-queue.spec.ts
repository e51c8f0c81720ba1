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
});

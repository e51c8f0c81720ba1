/** Injection token of the process's {@link StartQueue}. */
export const START_QUEUE = Symbol('START_QUEUE');

/** A start job: runs once a slot is free. Its failure is its own business (it must not throw). */
export type StartJob = () => Promise<void>;

interface Waiting {
  id: string;
  job: StartJob;
}

/**
 * In-process queue of workspace starts with a fixed concurrency. A dev server's cold start is
 * CPU-bound: starting many at once makes every one of them slow, so they wait their turn and can
 * see their place in line. Positions are 1-based; a running job has no position.
 */
export class StartQueue {
  private readonly waiting: Waiting[] = [];
  /** Running jobs by a key of their own: a session may be queued again while its last job winds down. */
  private readonly running = new Map<number, { id: string; run: Promise<void> }>();
  private nextKey = 0;
  private closed = false;

  constructor(
    readonly concurrency: number,
    /** Told the new positions of the jobs still waiting whenever they change. */
    public onPositionsChanged: (positions: Map<string, number>) => void = () => undefined,
  ) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error('concurrency must be a positive integer');
  }

  /** Queues a job; answers its position (0: started at once). */
  enqueue(id: string, job: StartJob): number {
    if (this.closed) throw new Error('start queue is closed');
    if (this.waiting.some((w) => w.id === id)) throw new Error(`job ${id} is already queued`);
    if (this.running.size < this.concurrency) {
      this.launch(id, job);
      return 0;
    }
    this.waiting.push({ id, job });
    return this.waiting.length;
  }

  /** 1-based place among waiting jobs, or null when running or unknown. */
  position(id: string): number | null {
    const index = this.waiting.findIndex((w) => w.id === id);
    return index === -1 ? null : index + 1;
  }

  isRunning(id: string): boolean {
    return [...this.running.values()].some((entry) => entry.id === id);
  }

  /** Removes a waiting job; answers whether it was waiting. A running job is not interrupted. */
  cancel(id: string): boolean {
    const index = this.waiting.findIndex((w) => w.id === id);
    if (index === -1) return false;
    this.waiting.splice(index, 1);
    this.announce();
    return true;
  }

  get size(): { waiting: number; running: number } {
    return { waiting: this.waiting.length, running: this.running.size };
  }

  /** Stops taking and launching jobs; answers the ids that were still waiting (never started). */
  close(): string[] {
    this.closed = true;
    return this.waiting.splice(0).map((w) => w.id);
  }

  /** Resolves when the running jobs have finished, or after `timeoutMs`. */
  async settle(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.running.values()].map((entry) => entry.run)),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  private launch(id: string, job: StartJob): void {
    const run = (async () => {
      try {
        await job();
      } catch {
        // Jobs handle their own failures; a throw here must not stop the queue.
      }
    })();
    const key = this.nextKey++;
    this.running.set(key, { id, run });
    void run.finally(() => {
      this.running.delete(key);
      this.next();
    });
  }

  private next(): void {
    if (this.closed) return;
    let launched = false;
    while (this.running.size < this.concurrency && this.waiting.length > 0) {
      const { id, job } = this.waiting.shift()!;
      this.launch(id, job);
      launched = true;
    }
    if (launched) this.announce();
  }

  private announce(): void {
    if (this.waiting.length === 0) return;
    this.onPositionsChanged(new Map(this.waiting.map((w, index) => [w.id, index + 1])));
  }
}

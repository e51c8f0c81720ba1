/** Injection token of the process's {@link StartQueue}. */
export const START_QUEUE = Symbol('START_QUEUE');

/** A start job: runs once a slot is free. Its failure is its own business (it must not throw). */
export type StartJob = () => Promise<void>;

/**
 * `normal`: a user's start. `background`: a warm-pool refill, which runs only on a slot nobody
 * else wants and never delays a user's start (a user's start does not count the refills running).
 */
export type StartPriority = 'normal' | 'background';

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
  private readonly background: Waiting[] = [];
  /** Running jobs by a key of their own: a session may be queued again while its last job winds down. */
  private readonly running = new Map<number, { id: string; run: Promise<void>; priority: StartPriority }>();
  private nextKey = 0;
  private closed = false;

  constructor(
    readonly concurrency: number,
    /** Told the new positions of the jobs still waiting whenever they change. */
    public onPositionsChanged: (positions: Map<string, number>) => void = () => undefined,
  ) {
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw new Error('concurrency must be a positive integer');
  }

  /**
   * Queues a job; answers its position (0: started at once). A `normal` job starts as soon as fewer
   * than `concurrency` normal jobs run; a `background` one only when fewer than `concurrency` jobs
   * of any kind run and no normal job waits. So a user's start may briefly share the CPU with a
   * refill already running (which runs at a low CPU weight), but never waits for one.
   */
  enqueue(id: string, job: StartJob, priority: StartPriority = 'normal'): number {
    if (this.closed) throw new Error('start queue is closed');
    if (this.waiting.some((w) => w.id === id) || this.background.some((w) => w.id === id)) {
      throw new Error(`job ${id} is already queued`);
    }
    if (priority === 'background') {
      if (this.running.size < this.concurrency && this.waiting.length === 0) {
        this.launch(id, job, priority);
        return 0;
      }
      this.background.push({ id, job });
      return this.waiting.length + this.background.length;
    }
    if (this.runningNormal() < this.concurrency) {
      this.launch(id, job, priority);
      return 0;
    }
    this.waiting.push({ id, job });
    return this.waiting.length;
  }

  /** 1-based place among waiting user jobs, or null when running, in the background or unknown. */
  position(id: string): number | null {
    const index = this.waiting.findIndex((w) => w.id === id);
    return index === -1 ? null : index + 1;
  }

  isRunning(id: string): boolean {
    return [...this.running.values()].some((entry) => entry.id === id);
  }

  /** Removes a waiting job; answers whether it was waiting. A running job is not interrupted. */
  cancel(id: string): boolean {
    const backgroundIndex = this.background.findIndex((w) => w.id === id);
    if (backgroundIndex !== -1) {
      this.background.splice(backgroundIndex, 1);
      return true;
    }
    const index = this.waiting.findIndex((w) => w.id === id);
    if (index === -1) return false;
    this.waiting.splice(index, 1);
    this.announce();
    return true;
  }

  get size(): { waiting: number; running: number; background: number } {
    return { waiting: this.waiting.length, running: this.running.size, background: this.background.length };
  }

  /** Stops taking and launching jobs; answers the ids that were still waiting (never started). */
  close(): string[] {
    this.closed = true;
    return [...this.waiting.splice(0), ...this.background.splice(0)].map((w) => w.id);
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

  private runningNormal(): number {
    let count = 0;
    for (const entry of this.running.values()) if (entry.priority === 'normal') count++;
    return count;
  }

  private launch(id: string, job: StartJob, priority: StartPriority): void {
    const run = (async () => {
      try {
        await job();
      } catch {
        // Jobs handle their own failures; a throw here must not stop the queue.
      }
    })();
    const key = this.nextKey++;
    this.running.set(key, { id, run, priority });
    void run.finally(() => {
      this.running.delete(key);
      this.next();
    });
  }

  private next(): void {
    if (this.closed) return;
    let launched = false;
    while (this.runningNormal() < this.concurrency && this.waiting.length > 0) {
      const { id, job } = this.waiting.shift()!;
      this.launch(id, job, 'normal');
      launched = true;
    }
    while (this.running.size < this.concurrency && this.waiting.length === 0 && this.background.length > 0) {
      const { id, job } = this.background.shift()!;
      this.launch(id, job, 'background');
    }
    if (launched) this.announce();
  }

  private announce(): void {
    if (this.waiting.length === 0) return;
    this.onPositionsChanged(new Map(this.waiting.map((w, index) => [w.id, index + 1])));
  }
}

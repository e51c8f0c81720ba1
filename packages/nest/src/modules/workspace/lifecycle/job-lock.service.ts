import { createHash } from 'node:crypto';
import { type BeforeApplicationShutdown, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { AppConfig } from '../../../config/app-config';

/** First key of every advisory lock the lifecycle jobs take ("bld" + 1), so other users of advisory locks never collide. */
const LOCK_NAMESPACE = 0x626c6401;
const SHUTDOWN_WAIT_MS = 10_000;

/**
 * Runs a scheduled job at most once at a time across every backend process of a database.
 *
 * PostgreSQL server: a transaction-scoped advisory lock (`pg_try_advisory_xact_lock`) held by a
 * transaction that stays open while the job runs; a process that does not get it skips this round.
 * The lock query uses only the transaction's own manager, and the lock dies with the transaction
 * (or the connection, should the process die). Embedded PGlite: advisory locks exclude nothing there
 * (one shared session) and holding a transaction would block the single pooled connection, but
 * there is only one backend process: an in-process flag does it.
 * In both modes a job still running when its next tick comes is not started twice in this process.
 */
@Injectable()
export class JobLock implements BeforeApplicationShutdown {
  private readonly running = new Map<string, Promise<unknown>>();
  private closed = false;

  constructor(
    private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  /** Runs `job` if no other run of `name` holds the lock; answers whether it ran. */
  async runExclusive(name: string, job: () => Promise<void>): Promise<boolean> {
    if (this.closed || this.running.has(name)) return false;
    const run = this.runLocked(name, job);
    this.running.set(name, run);
    try {
      return await run;
    } finally {
      this.running.delete(name);
    }
  }

  /** No new runs once the application shuts down; runs in progress get a moment to finish (the database closes next). */
  async beforeApplicationShutdown(): Promise<void> {
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.running.values()]),
      new Promise((resolve) => {
        timer = setTimeout(resolve, SHUTDOWN_WAIT_MS);
      }),
    ]);
    clearTimeout(timer);
  }

  private async runLocked(name: string, job: () => Promise<void>): Promise<boolean> {
    if (this.config.database.kind !== 'postgres') {
      await job();
      return true;
    }
    return this.dataSource.transaction(async (manager) => {
      const rows: Array<{ locked: boolean }> = await manager.query(
        'SELECT pg_try_advisory_xact_lock($1::int, $2::int) AS locked',
        [LOCK_NAMESPACE, lockKey(name)],
      );
      if (!rows[0]?.locked) return false;
      await job();
      return true;
    });
  }
}

/** A stable signed 32-bit key for a job name. */
function lockKey(name: string): number {
  return createHash('sha256').update(name).digest().readInt32BE(0);
}

import { closeSync, existsSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { ROOT_LOGGER } from '../shared/logging/logging.module';

type WorkerMessage =
  { type: 'ready'; port: number } | { type: 'failed'; error: string } | { type: 'stopped'; error?: string };

/** The embedded database's folder is in use by another live process. */
export class DataDirLockedError extends Error {
  constructor(lockFile: string, pid: number) {
    super(
      `embedded database folder is in use by process ${pid} (lock file ${lockFile}); ` +
        'stop that backend, or delete the lock file if that process is gone',
    );
    this.name = 'DataDirLockedError';
  }
}

/** Lock files this process holds, so two apps in one process cannot open the same folder either. */
const heldLocks = new Set<string>();
/** Started instances whose application has not finished booting, for a failed start-up to stop. */
const bootingInstances = new Set<EmbeddedPostgresService>();

/** Stops embedded databases whose application failed during start-up. */
export async function stopBootingEmbeddedPostgres(): Promise<void> {
  await Promise.all([...bootingInstances].map((instance) => instance.stop()));
}

/**
 * Embedded PostgreSQL for machines without a server: PGlite in a worker thread, reached through
 * TypeORM's ordinary postgres driver over a loopback socket. Holds a lock file on its folder.
 */
@Injectable()
export class EmbeddedPostgresService implements OnApplicationBootstrap, OnApplicationShutdown {
  private worker: Worker | null = null;
  private lockFile: string | null = null;
  private readonly log: Logger;

  constructor(
    @Inject(ROOT_LOGGER) logger: Logger,
    private readonly moduleRef: ModuleRef,
  ) {
    this.log = logger.child({ context: 'EmbeddedPostgres' });
  }

  /** Starts PGlite on `dataDir` and answers the loopback port its socket server listens on. */
  async start(dataDir: string): Promise<number> {
    if (this.worker) throw new Error('embedded database already started');
    mkdirSync(dataDir, { recursive: true });
    this.lockFile = acquireLock(join(dirname(dataDir), 'pglite.lock'));
    const startedAt = Date.now();
    // Plain JS next to this file in src/ and (via allowJs) in dist/.
    const worker = new Worker(join(__dirname, 'pglite.worker.js'), { workerData: { dataDir } });
    this.worker = worker;
    try {
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error('embedded database did not start within 120 s')),
          120_000,
        );
        worker.once('error', (error) => {
          clearTimeout(timer);
          reject(error);
        });
        worker.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`embedded database worker exited with code ${code}`));
        });
        worker.on('message', (message: WorkerMessage) => {
          if (message.type === 'ready') {
            clearTimeout(timer);
            resolve(message.port);
          } else if (message.type === 'failed') {
            clearTimeout(timer);
            reject(new Error(`embedded database failed to start: ${message.error}`));
          }
        });
      });
      worker.on('error', (error) => this.log.error({ err: error }, 'embedded database worker failed'));
      // The worker never keeps the process alive by itself (a failed start-up must still exit).
      worker.unref();
      bootingInstances.add(this);
      this.log.info({ dataDir, port, ms: Date.now() - startedAt }, 'embedded database ready');
      return port;
    } catch (error) {
      await worker.terminate().catch(() => undefined);
      this.worker = null;
      this.releaseLock();
      throw error;
    }
  }

  onApplicationBootstrap(): void {
    bootingInstances.delete(this);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  async stop(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.worker = null;
    bootingInstances.delete(this);
    try {
      // The connection on top of this server closes first, whichever shutdown hook runs first.
      const dataSource = this.findDataSource();
      if (dataSource?.isInitialized) await dataSource.destroy();
    } catch (error) {
      this.log.warn({ err: error }, 'closing the database connection failed');
    }
    try {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 10_000);
        worker.on('message', (message: WorkerMessage) => {
          if (message.type === 'stopped') {
            clearTimeout(timer);
            if (message.error)
              this.log.warn({ error: message.error }, 'embedded database stopped with an error');
            resolve();
          }
        });
        worker.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        worker.postMessage({ type: 'stop' });
      });
    } finally {
      await worker.terminate().catch(() => undefined);
      this.releaseLock();
      this.log.info('embedded database stopped');
    }
  }

  private findDataSource(): DataSource | null {
    try {
      return this.moduleRef.get(DataSource, { strict: false });
    } catch {
      return null;
    }
  }

  private releaseLock(): void {
    if (!this.lockFile) return;
    releaseLock(this.lockFile);
    this.lockFile = null;
  }
}

function acquireLock(lockFile: string): string {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockFile, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      heldLocks.add(lockFile);
      return lockFile;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const pid = Number.parseInt(readFileSafe(lockFile), 10);
    const heldHere = heldLocks.has(lockFile);
    if (heldHere || (pid > 0 && pid !== process.pid && isAlive(pid))) {
      throw new DataDirLockedError(lockFile, heldHere ? process.pid : pid);
    }
    // Stale lock of a process that is gone (e.g. killed with -9): take it over.
    try {
      unlinkSync(lockFile);
    } catch {
      // raced with another process removing it; the next attempt decides
    }
  }
  throw new DataDirLockedError(lockFile, Number.parseInt(readFileSafe(lockFile), 10) || 0);
}

function releaseLock(lockFile: string): void {
  heldLocks.delete(lockFile);
  try {
    if (existsSync(lockFile) && readFileSafe(lockFile) === String(process.pid)) unlinkSync(lockFile);
  } catch {
    // best effort
  }
}

// A process that exits without shutdown hooks still frees its lock files.
process.once('exit', () => {
  for (const lock of heldLocks) releaseLock(lock);
});

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

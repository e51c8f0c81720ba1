import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { Logger } from 'pino';
import { AppConfig } from '../../config/app-config';
import { StorageLimitExceededError } from '../../shared/errors/storage-limit-exceeded.error';
import { ROOT_LOGGER } from '../../shared/logging/logging.module';
import { RuntimeUnavailableError, WorkspaceNotFoundError } from '../../shared/runtime/runtime.errors';
import { WORKSPACE_RUNTIME, type WorkspaceRuntime } from '../../shared/runtime/workspace-runtime.interface';
import { WorkspaceEventsService } from './workspace-events.service';

/** What this process knows of a session's disk use. */
interface Usage {
  /** Bytes the runtime measured, and when. */
  measuredBytes: number;
  measuredAt: number;
  /** The runtime reads it in microseconds: measured again for every write rather than estimated. */
  cheap: boolean;
  /** Bytes the files API accepted since (counted whole: a replaced file's old size is not subtracted). */
  writtenBytes: number;
}

/**
 * The storage limit of workspaces (WORKSPACE_STORAGE_LIMIT_MB), as the files API and the health
 * monitor see it, measured through the runtime (`diskUsage`). Where the runtime reads it in
 * microseconds (a workspace's own file system: statfs), every write is checked against a fresh
 * figure. Elsewhere (a walk of the files, `du` in the workspace) a write adds its size to the last
 * measurement and is answered from memory while that stays under the limit and the measurement is
 * younger than one health interval; near the limit, or when the figure is old, it measures again
 * before deciding. There, growth from inside that no write announced (caches, a process writing
 * files) is seen at the next health round, which measures every running workspace and ends one
 * over the limit.
 */
@Injectable()
export class WorkspaceStorageService implements OnModuleDestroy {
  private readonly log: Logger;
  private readonly usage = new Map<string, Usage>();
  private readonly measuring = new Map<string, Promise<number>>();
  private readonly offStatus: () => void;

  constructor(
    private readonly config: AppConfig,
    @Inject(WORKSPACE_RUNTIME) private readonly runtime: WorkspaceRuntime,
    events: WorkspaceEventsService,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: 'WorkspaceStorage' });
    // A session that changed status (ended, restarted) is measured afresh.
    this.offStatus = events.on('status', (event) => this.usage.delete(event.sessionId));
  }

  onModuleDestroy(): void {
    this.offStatus();
  }

  get limitBytes(): number {
    return this.config.resources.storageBytes;
  }

  /**
   * Makes room for a write of `bytes` to the session's workspace, or throws
   * {@link StorageLimitExceededError} (413) and nothing is written. Call before every file write.
   */
  async reserve(sessionId: string, workspaceId: string, bytes: number): Promise<void> {
    const known = this.usage.get(sessionId);
    if (
      known &&
      !known.cheap &&
      this.fresh(known) &&
      known.measuredBytes + known.writtenBytes + bytes <= this.limitBytes
    ) {
      known.writtenBytes += bytes;
      return;
    }
    let used: number;
    try {
      used = await this.measure(sessionId, workspaceId);
    } catch (error) {
      if (error instanceof RuntimeUnavailableError || error instanceof WorkspaceNotFoundError) throw error;
      // An unreadable figure does not block an edit: the health monitor measures again, and where
      // the runtime gives one, the kernel's limit stands anyway.
      this.log.warn({ err: error, sessionId }, 'measuring the workspace failed; the write is let through');
      return;
    }
    if (used + bytes > this.limitBytes) throw new StorageLimitExceededError(this.limitBytes, used, bytes);
    const current = this.usage.get(sessionId);
    if (current) current.writtenBytes += bytes;
  }

  /** Measures the session's workspace now (one measurement at a time per session) and remembers it. */
  measure(sessionId: string, workspaceId: string): Promise<number> {
    let pending = this.measuring.get(sessionId);
    if (!pending) {
      pending = this.runtime
        .diskUsage(workspaceId)
        .then(({ usedBytes, cheap }) => {
          if (this.usage.size >= 10_000) this.usage.clear();
          this.usage.set(sessionId, {
            measuredBytes: usedBytes,
            measuredAt: Date.now(),
            writtenBytes: 0,
            cheap,
          });
          return usedBytes;
        })
        .finally(() => this.measuring.delete(sessionId));
      this.measuring.set(sessionId, pending);
    }
    return pending;
  }

  private fresh(usage: Usage): boolean {
    return Date.now() - usage.measuredAt < this.config.lifecycle.healthIntervalMs;
  }
}

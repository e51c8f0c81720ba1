import { Inject, Injectable } from '@nestjs/common';
import { WorkspaceStatus } from '@builder/shared';
import type { Logger } from 'pino';
import { ROOT_LOGGER } from '../../../shared/logging/logging.module';
import { RuntimeUnavailableError } from '../../../shared/runtime/runtime.errors';
import {
  WORKSPACE_RUNTIME,
  type WorkspaceRuntime,
} from '../../../shared/runtime/workspace-runtime.interface';
import { ProjectSyncService } from '../project-sync.service';
import { WorkspaceEventsService } from '../workspace-events.service';
import { WorkspaceSessionRepository } from '../workspace-session.repository';

const { Creating, Running, Stopping, Stopped, Error: Failed } = WorkspaceStatus;

/** How a session ends: `stopped` (expired, idle) or `error` (dead, out of memory, disappeared). */
export type SessionOutcome = 'stopped' | 'error';

const REMOVE_ATTEMPTS = 3;
const REMOVE_RETRY_MS = 500;

/**
 * Ends sessions for the lifecycle jobs: `creating`/`running` → `stopping` → workspace and volume
 * removed → final status with the port released (active statuses hold it) and a status event.
 *
 * Idempotent and safe when several callers (jobs of two processes, the owner's DELETE, a start job)
 * end the same session: every move is a conditional transition, removal from the runtime is
 * idempotent, and only the caller whose transition won announces it. When the engine does not
 * answer, the session stays `stopping` (port still held, since the container may still hold it)
 * and reconciliation finishes it later.
 */
@Injectable()
export class SessionCleanupService {
  private readonly log: Logger;

  constructor(
    private readonly sessions: WorkspaceSessionRepository,
    private readonly events: WorkspaceEventsService,
    private readonly sync: ProjectSyncService,
    @Inject(WORKSPACE_RUNTIME) private readonly runtime: WorkspaceRuntime,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: 'SessionCleanup' });
  }

  /**
   * Ends a session with `outcome` and `reason` (kept in `errorMessage`, also for `stopped`, so the
   * owner learns why). Answers whether this call moved it to its final status.
   */
  async end(id: string, outcome: SessionOutcome, reason: string): Promise<boolean> {
    const log = this.log.child({ sessionId: id });
    const session = await this.sessions.findById(id);
    if (!session) return false;
    // `desiredStatus` carries the outcome while the session is `stopping`, so whoever finishes it
    // (this call, a sibling job, reconciliation after a crash) ends it the same way.
    const desiredStatus = outcome === 'error' ? Failed : Stopped;
    if (session.status === Creating || session.status === Running) {
      // A start in progress sees the session move and removes what it created itself.
      if (
        await this.sessions.transition(id, [Creating, Running], Stopping, {
          desiredStatus,
          errorMessage: reason,
        })
      ) {
        this.events.statusChanged(id, Stopping, session.status, reason);
      }
    }
    return this.finish(id, reason, log);
  }

  /** Finishes a `stopping` session toward its desired status (also one a crashed process left). */
  async finish(
    id: string,
    fallbackReason: string,
    log: Logger = this.log.child({ sessionId: id }),
  ): Promise<boolean> {
    const current = await this.sessions.findById(id);
    if (!current) return false;
    if (current.status !== Stopping) {
      // Already ended by someone else: only make sure nothing is left in the runtime.
      if (current.status === Stopped || current.status === Failed)
        await this.removeFromRuntime(id, current.containerId, log);
      return false;
    }
    if (!(await this.removeFromRuntime(id, current.containerId, log))) return false;
    const final = current.desiredStatus === Failed ? Failed : Stopped;
    const reason = current.errorMessage ?? fallbackReason;
    const won = await this.sessions.transition(id, [Stopping], final, {
      desiredStatus: final,
      port: null,
      previewUrl: null,
      buildStep: final === Failed ? 'error' : current.buildStep,
      errorMessage: current.errorMessage,
    });
    if (won) {
      log.info({ outcome: final, reason }, 'session ended');
      this.events.statusChanged(id, final, Stopping, reason);
    }
    return won;
  }

  /**
   * Captures what changed inside the session's workspace as a version of its project, then removes
   * the workspace and volume. Answers false when that could not be confirmed (files not captured,
   * engine down, a concurrent removal still in progress after retries): the workspace is kept and
   * reconciliation tries again.
   */
  async removeFromRuntime(id: string, containerId: string | null, log: Logger = this.log): Promise<boolean> {
    if (!(await this.sync.capture(id, containerId))) return false;
    for (let attempt = 1; ; attempt++) {
      try {
        if (containerId) await this.runtime.remove(containerId);
        if (this.runtime.removeBySession) await this.runtime.removeBySession(id);
        return true;
      } catch (error) {
        if (error instanceof RuntimeUnavailableError || attempt >= REMOVE_ATTEMPTS) {
          log.warn(
            { err: error, sessionId: id, attempt },
            'removing the workspace failed; reconciliation retries',
          );
          return false;
        }
        await new Promise((resolve) => setTimeout(resolve, REMOVE_RETRY_MS * attempt));
      }
    }
  }
}

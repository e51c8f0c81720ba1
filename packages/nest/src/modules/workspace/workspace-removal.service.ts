import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { ROOT_LOGGER } from '../../shared/logging/logging.module';
import {
  WORKSPACE_LABELS,
  WORKSPACE_RUNTIME,
  type WorkspaceRuntime,
} from '../../shared/runtime/workspace-runtime.interface';
import { ProjectSyncService } from './project-sync.service';

/**
 * Runtime operations of one session, one after the other: a delete, a superseded start and a
 * shutdown may all remove the same workspace, and the engine refuses a second concurrent removal of
 * a container; a removal never races a create that is still laying out the workspace.
 */
@Injectable()
export class WorkspaceRemovalService {
  private readonly log: Logger;
  /** The tail of each session's chain of runtime operations. */
  private readonly runtimeOps = new Map<string, Promise<void>>();

  constructor(
    private readonly sync: ProjectSyncService,
    @Inject(WORKSPACE_RUNTIME) private readonly runtime: WorkspaceRuntime,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: 'WorkspaceRemoval' });
  }

  /**
   * Removes whatever the runtime holds for a session, after capturing what changed in it as a
   * version of its project (unless `capture` is false). Idempotent; never throws. Answers whether
   * the workspace is gone (false: its files could not be captured, or the engine failed).
   */
  remove(
    sessionId: string,
    containerId: string | null,
    options: { capture: boolean } = { capture: true },
  ): Promise<boolean> {
    return this.serialized(sessionId, () => this.removeNow(sessionId, containerId, options.capture));
  }

  /** Runs `operation` after every earlier runtime operation of the session has settled. */
  serialized<T>(sessionId: string, operation: () => Promise<T>): Promise<T> {
    const previous = this.runtimeOps.get(sessionId) ?? Promise.resolve();
    const result = previous.then(operation, operation);
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.runtimeOps.set(sessionId, settled);
    void settled.then(() => {
      if (this.runtimeOps.get(sessionId) === settled) this.runtimeOps.delete(sessionId);
    });
    return result;
  }

  private async removeNow(sessionId: string, containerId: string | null, capture: boolean): Promise<boolean> {
    try {
      if (capture && !(await this.sync.capture(sessionId, containerId))) return false;
      if (containerId) await this.runtime.remove(containerId);
      if (this.runtime.removeBySession) {
        await this.runtime.removeBySession(sessionId);
      } else {
        const leftovers = (await this.runtime.list()).filter(
          (info) => info.labels[WORKSPACE_LABELS.sessionId] === sessionId,
        );
        for (const info of leftovers) await this.runtime.remove(info.id);
      }
      return true;
    } catch (error) {
      this.log.error(
        { err: error, sessionId, containerId },
        'removing the workspace from the runtime failed',
      );
      return false;
    }
  }
}

import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { type LogEvent, WorkspaceStatus } from '@builder/shared';
import type { Logger } from 'pino';
import { AppConfig } from '../../../config/app-config';
import { ROOT_LOGGER } from '../../../shared/logging/logging.module';
import {
  type LogLine,
  WORKSPACE_RUNTIME,
  type WorkspaceRuntime,
} from '../../../shared/runtime/workspace-runtime.interface';
import { requireRunning } from '../workspace-files.service';
import { WorkspaceEventsService } from '../workspace-events.service';
import { WorkspaceSessionRepository } from '../workspace-session.repository';

/** Longest line relayed, in characters: a minified bundle printed by mistake must not flood sockets. */
const MAX_LINE_CHARS = 4_000;
/** Terminal escape sequences (colours, cursor moves): a log line is plain text. */
const ANSI_ESCAPE = /\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b\][^\u0007]*\u0007/g;

/** The output of one running session's dev server, as it is followed. */
interface Follower {
  stop: (() => void) | null;
  /** The last lines, replayed to a late subscriber. */
  recent: LogEvent[];
  /** Token bucket of the rate limit: lines that may be sent now. */
  tokens: number;
  refilledAt: number;
  /** Lines over the rate limit since the last one sent. */
  dropped: number;
  notice: NodeJS.Timeout | null;
}

/** Plain text of a dev-server line: escape sequences removed, bounded in length. */
export function cleanLogLine(line: string): string {
  const text = line.replace(ANSI_ESCAPE, '');
  return text.length > MAX_LINE_CHARS ? `${text.slice(0, MAX_LINE_CHARS)} […]` : text;
}

/**
 * The dev server's output, live: one follower per running session, on the replica holding the
 * session's lease (opened and closed with it by SessionOwnershipService, like the HMR relay), whose lines are published as `log` events for the session's
 * room only, at most DEV_SERVER_LOG_LINES_PER_SECOND per session (a burst of twice that), with a
 * notice of how many were held back. The last DEV_SERVER_LOG_REPLAY_LINES are kept for a socket
 * that subscribes later. The REST tail reads the runtime's own log, complete.
 */
@Injectable()
export class WorkspaceLogsService implements OnModuleDestroy {
  private readonly log: Logger;
  private readonly followers = new Map<string, Follower>();

  constructor(
    private readonly config: AppConfig,
    private readonly sessions: WorkspaceSessionRepository,
    private readonly events: WorkspaceEventsService,
    @Inject(WORKSPACE_RUNTIME) private readonly runtime: WorkspaceRuntime,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: 'WorkspaceLogs' });
  }

  onModuleDestroy(): void {
    for (const sessionId of [...this.followers.keys()]) this.close(sessionId);
  }

  /** Whether a session's output is followed (for tests and metrics). */
  isFollowing(sessionId: string): boolean {
    return this.followers.get(sessionId)?.stop != null;
  }

  /**
   * Follows a running session's output (idempotent), from the last DEV_SERVER_LOG_REPLAY_LINES on:
   * a replica taking a session over replays what its previous holder had. Never rejects.
   */
  async follow(sessionId: string): Promise<void> {
    if (this.followers.has(sessionId)) return;
    const follower: Follower = {
      stop: null,
      recent: [],
      tokens: this.burst,
      refilledAt: performance.now(),
      dropped: 0,
      notice: null,
    };
    this.followers.set(sessionId, follower);
    try {
      const session = await this.sessions.findById(sessionId);
      if (session?.status !== WorkspaceStatus.Running || !session.containerId) {
        this.followers.delete(sessionId);
        return;
      }
      const stop = await this.runtime.followLogs(
        session.containerId,
        (line) => this.publish(sessionId, follower, line),
        {
          tail: this.config.devServerLogs.replayLines,
          // The output ended (the workspace stopped): a later subscribe follows it again.
          onEnd: () => {
            if (this.followers.get(sessionId) === follower) this.close(sessionId);
          },
        },
      );
      if (this.followers.get(sessionId) !== follower)
        stop(); // closed meanwhile
      else follower.stop = stop;
    } catch (error) {
      if (this.followers.get(sessionId) === follower) this.followers.delete(sessionId);
      this.log.warn({ err: error, sessionId }, 'the dev server output cannot be followed');
    }
  }

  /** The last lines of a followed session, to replay to a socket that just subscribed. */
  replay(sessionId: string): LogEvent[] {
    return [...(this.followers.get(sessionId)?.recent ?? [])];
  }

  /** `GET /workspace/:id/logs?tail=N`: the last lines of the caller's running session. */
  async tail(userId: string, sessionId: string, tail: number): Promise<string[]> {
    const containerId = requireRunning(await this.sessions.findOwned(userId, sessionId));
    this.sessions.recordActivity(sessionId);
    const lines = await this.runtime.logs(containerId, { tail });
    return lines.map(cleanLogLine);
  }

  /** Stops following a session's output (it stopped, or another replica took it over). */
  close(sessionId: string): void {
    const follower = this.followers.get(sessionId);
    if (!follower) return;
    this.followers.delete(sessionId);
    follower.stop?.();
    if (follower.notice) clearTimeout(follower.notice);
  }

  private get burst(): number {
    return this.config.devServerLogs.linesPerSecond * 2;
  }

  private publish(sessionId: string, follower: Follower, line: LogLine): void {
    const event: LogEvent = {
      sessionId,
      stream: line.stream,
      line: cleanLogLine(line.line),
      at: new Date().toISOString(),
    };
    const keep = this.config.devServerLogs.replayLines;
    follower.recent.push(event);
    if (follower.recent.length > keep) follower.recent.splice(0, follower.recent.length - keep);
    if (this.take(follower)) {
      this.flushNotice(sessionId, follower);
      this.events.emit('log', event);
      return;
    }
    follower.dropped++;
    // Said once the bucket has room again, even if the dev server falls silent meanwhile.
    follower.notice ??= setTimeout(() => {
      follower.notice = null;
      if (this.followers.get(sessionId) === follower && this.take(follower))
        this.flushNotice(sessionId, follower);
    }, 1_000);
  }

  /** Takes a token of the session's bucket, refilled at DEV_SERVER_LOG_LINES_PER_SECOND. */
  private take(follower: Follower): boolean {
    const now = performance.now();
    const rate = this.config.devServerLogs.linesPerSecond;
    follower.tokens = Math.min(this.burst, follower.tokens + ((now - follower.refilledAt) / 1000) * rate);
    follower.refilledAt = now;
    if (follower.tokens < 1) return false;
    follower.tokens -= 1;
    return true;
  }

  private flushNotice(sessionId: string, follower: Follower): void {
    if (follower.dropped === 0) return;
    const count = follower.dropped;
    follower.dropped = 0;
    this.events.emit('log', {
      sessionId,
      stream: 'stderr',
      line: `[builder] ${count} line${count === 1 ? '' : 's'} not shown (over ${this.config.devServerLogs.linesPerSecond} lines per second); GET /api/v1/workspace/${sessionId}/logs has them`,
      at: new Date().toISOString(),
    });
  }
}

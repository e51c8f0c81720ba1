import { cpus } from 'node:os';
import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import type { ContainerInfo, ResourceAllocation } from '@builder/shared';
import type { Logger } from 'pino';
import { AppConfig } from '../../../config/app-config';
import { ROOT_LOGGER } from '../../../shared/logging/logging.module';
import { HttpProbe } from '../../../shared/runtime/http-probe.service';
import { RuntimeUnavailableError, WorkspaceNotFoundError } from '../../../shared/runtime/runtime.errors';
import {
  WORKSPACE_RUNTIME,
  type WorkspaceRuntime,
} from '../../../shared/runtime/workspace-runtime.interface';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { MetricsService } from '../../observability/metrics.service';
import { formatSize } from '../../../shared/errors/storage-limit-exceeded.error';
import { WorkspaceSessionRepository } from '../workspace-session.repository';
import { WorkspaceStorageService } from '../workspace-storage.service';
import { SessionOwnershipService } from '../cluster/session-ownership.service';
import { SessionCleanupService } from './session-cleanup.service';

/** Workspaces checked at the same time. */
const CONCURRENCY = 8;
const PROBE_TIMEOUT_MS = 5_000;
/** A dev server that does not answer this many checks in a row counts as dead (one slow render is not). */
const PROBE_FAILURES_TO_ACT = 2;
const RESTART_POLL_MS = 500;
/** Restarts a workspace gets before the next death ends it `error` (counted in its session row). */
const RESTART_BUDGET = 1;

interface RunningRow {
  id: string;
  container_id: string;
  resource_allocation: ResourceAllocation;
}

/** What is wrong with a workspace, or null when it is healthy. */
interface Diagnosis {
  problem: string;
  /** Out of memory: restarting would only run into the limit again. */
  oom: boolean;
}

/**
 * Health of running workspaces, every HEALTH_INTERVAL_MS, each checked by the replica holding its
 * session's lease (SessionOwnershipService), so once across backend processes: the
 * container's state, Docker's own health status and an HTTP probe of the dev server at the
 * runtime's address. A dead or unhealthy workspace gets one restart per session (counted in the
 * session's row, so a restarted or second backend knows it was given); if that fails, or it fails
 * again later, the session ends `error` with the reason and is cleaned up. A workspace killed by the
 * OOM killer ends `error` at once, saying it ran out of memory, and one the runtime reports `lost`
 * (its swarm node is gone) ends `error` at once with that reason. A workspace whose files grew past
 * the storage limit from inside (WORKSPACE_STORAGE_LIMIT_MB, measured through the runtime) ends
 * `error` too, saying so. While the engine does not answer nothing is judged: an outage is not a
 * dead workspace.
 */
@Injectable()
export class HealthMonitorService implements OnApplicationBootstrap {
  private readonly log: Logger;
  private readonly probeFailures = new Map<string, number>();
  private round: Promise<void> | null = null;
  /** Start of the window in which OOM kills are looked up next. */
  private oomSince = new Date();

  constructor(
    private readonly config: AppConfig,
    private readonly cleanup: SessionCleanupService,
    private readonly ownership: SessionOwnershipService,
    private readonly metrics: MetricsService,
    private readonly probe: HttpProbe,
    private readonly sessions: WorkspaceSessionRepository,
    private readonly storage: WorkspaceStorageService,
    private readonly scheduler: SchedulerRegistry,
    @InjectDataSource() private readonly db: DataSource,
    @Inject(WORKSPACE_RUNTIME) private readonly runtime: WorkspaceRuntime,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: 'HealthMonitor' });
  }

  onApplicationBootstrap(): void {
    const timer = setInterval(() => void this.run(), this.config.lifecycle.healthIntervalMs);
    this.scheduler.addInterval('workspace-health', timer);
  }

  /** One round of checks of the sessions this replica holds (skipped while a round runs). Never throws. */
  run(): Promise<void> {
    this.round ??= this.checkAll()
      .catch((error: unknown) => this.log.error({ err: error }, 'health check round failed'))
      .finally(() => {
        this.round = null;
      });
    return this.round;
  }

  private async checkAll(): Promise<void> {
    const owned = this.ownership.ownedSessions();
    if (owned.length === 0) return;
    const rows: RunningRow[] = await this.db.query(
      `SELECT id, container_id, resource_allocation FROM workspace_sessions
        WHERE id = ANY($1::uuid[]) AND status = 'running' AND container_id IS NOT NULL`,
      [owned],
    );
    const live = new Set(rows.map((row) => row.id));
    for (const id of this.probeFailures.keys()) if (!live.has(id)) this.probeFailures.delete(id);

    let oomKilled: Set<string>;
    try {
      oomKilled = await this.recentOomKills();
    } catch (error) {
      if (!(error instanceof RuntimeUnavailableError)) throw error;
      this.log.warn({ err: error.message }, 'the engine does not answer; health checks wait for it');
      return;
    }
    const queue = [...rows];
    let engineDown = false;
    const worker = async (): Promise<void> => {
      for (let row = queue.shift(); row && !engineDown; row = queue.shift()) {
        try {
          await this.check(row, oomKilled.has(row.container_id));
        } catch (error) {
          if (error instanceof RuntimeUnavailableError) {
            engineDown = true;
            this.log.warn({ err: error }, 'the engine does not answer; health checks wait for it');
          } else {
            this.log.error({ err: error, sessionId: row.id }, 'health check failed');
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, rows.length) }, worker));
  }

  /** Workspaces with an OOM kill since the last round (a killed child process leaves the container running). */
  private async recentOomKills(): Promise<Set<string>> {
    if (!this.runtime.oomKills) return new Set();
    const until = new Date();
    // The engine counts in whole seconds: overlap by one; acting twice is harmless (the session is no longer running).
    const ids = await this.runtime.oomKills(new Date(this.oomSince.getTime() - 1_000), until);
    this.oomSince = until;
    return new Set(ids);
  }

  private async check(row: RunningRow, oomKilled: boolean): Promise<void> {
    const log = this.log.child({ sessionId: row.id, containerId: row.container_id });
    let info: ContainerInfo;
    try {
      info = await this.runtime.inspect(row.container_id);
    } catch (error) {
      if (!(error instanceof WorkspaceNotFoundError)) throw error;
      log.warn('workspace disappeared from the runtime');
      if (await this.cleanup.end(row.id, 'error', 'workspace disappeared: its container no longer exists')) {
        this.metrics.reconcileActions.inc({ action: 'disappeared' });
      }
      return;
    }
    if (info.lost) {
      // Nothing to restart where it ran (its node is gone): end it at once, saying why.
      log.warn({ lost: info.lost }, 'workspace lost');
      if (await this.cleanup.end(row.id, 'error', info.lost)) this.metrics.reconcileActions.inc({ action: 'lost' });
      return;
    }
    if (info.state === 'running' && (await this.overStorageLimit(row, log))) return;
    const diagnosis = oomKilled ? { problem: 'out of memory', oom: true } : await this.diagnose(row, info);
    if (!diagnosis) {
      this.probeFailures.delete(row.id);
      return;
    }
    log.warn(
      { problem: diagnosis.problem, state: info.state, health: info.health },
      'workspace is not healthy',
    );
    if (diagnosis.oom) {
      const limitMb = Math.round(row.resource_allocation.memoryBytes / 1024 / 1024);
      if (
        await this.cleanup.end(
          row.id,
          'error',
          `out of memory: the workspace used its whole ${limitMb} MB memory limit and was killed by the OOM killer`,
        )
      ) {
        this.metrics.reconcileActions.inc({ action: 'oom' });
      }
      return;
    }
    if (!(await this.sessions.takeRestart(row.id, RESTART_BUDGET))) {
      if (
        await this.cleanup.end(row.id, 'error', `${diagnosis.problem}; it had already been restarted once`)
      ) {
        this.metrics.reconcileActions.inc({ action: 'unhealthy' });
      }
      return;
    }
    this.probeFailures.delete(row.id);
    const failure = await this.restart(row, info);
    if (failure === null) {
      log.info({ problem: diagnosis.problem }, 'workspace restarted');
      this.metrics.reconcileActions.inc({ action: 'restarted' });
      return;
    }
    if (await this.cleanup.end(row.id, 'error', `${diagnosis.problem}; a restart failed: ${failure}`)) {
      this.metrics.reconcileActions.inc({ action: 'unhealthy' });
    }
  }

  /** Ends the session when its files take more than the storage limit; answers whether it did. */
  private async overStorageLimit(row: RunningRow, log: Logger): Promise<boolean> {
    let used: number;
    try {
      used = await this.storage.measure(row.id, row.container_id);
    } catch (error) {
      if (error instanceof RuntimeUnavailableError || error instanceof WorkspaceNotFoundError) throw error;
      log.warn({ err: error }, 'measuring the workspace storage failed');
      return false;
    }
    const limit = this.storage.limitBytes;
    if (used <= limit) return false;
    log.warn({ usedBytes: used, limitBytes: limit }, 'workspace storage over its limit');
    if (
      await this.cleanup.end(
        row.id,
        'error',
        `storage limit exceeded (${formatSize(used)} of ${formatSize(limit)})`,
      )
    ) {
      this.metrics.reconcileActions.inc({ action: 'storage' });
    }
    return true;
  }

  private async diagnose(row: RunningRow, info: ContainerInfo): Promise<Diagnosis | null> {
    if (info.oomKilled) return { problem: 'out of memory', oom: true };
    if (info.state !== 'running') {
      const exit = info.exitCode === null ? '' : ` (exit code ${info.exitCode})`;
      return { problem: `the workspace's container is ${info.state}${exit}`, oom: false };
    }
    // Docker's health status alone is not enough under heavy load (its check times out while the
    // server is merely slow): our own probe must agree. Both failing is acted on at once; the
    // probe alone must fail on consecutive rounds.
    const answer = await this.probeDevServer(row.container_id);
    if (answer === null) return null;
    const failures = (this.probeFailures.get(row.id) ?? 0) + 1;
    this.probeFailures.set(row.id, failures);
    if (info.health === 'unhealthy')
      return {
        problem: `the workspace is unhealthy and its dev server does not answer (${answer})`,
        oom: false,
      };
    if (failures < PROBE_FAILURES_TO_ACT) return null;
    return { problem: `the dev server does not answer (${answer})`, oom: false };
  }

  /**
   * Null when the dev server answers HTTP, else why not. It is asked for Vite's own client module,
   * not a page: rendering the user's page each round cost a render per workspace and, while the
   * page did not compile, sent its sockets the same error every round; and its 500 (a syntax error
   * being fixed, from a live server) had the workspace restarted, then ended. Any answer counts.
   */
  private async probeDevServer(containerId: string): Promise<string | null> {
    const address = await this.runtime.address(containerId).catch((error: unknown) => {
      if (error instanceof RuntimeUnavailableError) throw error;
      return null;
    });
    if (!address) return 'it has no network address';
    const result = await this.probe.get(`http://${address.host}:${address.port}/@vite/client`, {
      timeoutMs: PROBE_TIMEOUT_MS,
      connectTimeoutMs: 2_000,
    });
    return result.status !== null ? null : (result.error ?? 'no answer');
  }

  /** Restarts the workspace and waits for its dev server; null on success, else why it failed. */
  private async restart(row: RunningRow, info: ContainerInfo): Promise<string | null> {
    const id = row.container_id;
    try {
      // Like a create: no CPU quota during the cold start, applied again once the server answers.
      await this.runtime.updateResources(id, { cpuCores: Math.max(1, cpus().length) }).catch(() => undefined);
      if (info.state === 'running') await this.runtime.stop(id, 3);
      await this.runtime.start(id);
      const deadline = Date.now() + this.config.runtime.startTimeoutMs;
      for (;;) {
        const state = await this.runtime.inspect(id);
        if (state.oomKilled) return 'it ran out of memory again';
        if (state.state !== 'running') return `its container is ${state.state} after the restart`;
        if ((await this.probeDevServer(id)) === null) break;
        if (Date.now() > deadline)
          return `the dev server did not answer within ${this.config.runtime.startTimeoutMs} ms`;
        await new Promise((resolve) => setTimeout(resolve, RESTART_POLL_MS));
      }
      await this.runtime
        .updateResources(id, { cpuCores: row.resource_allocation.cpuCores })
        .catch(() => undefined);
      return null;
    } catch (error) {
      if (error instanceof RuntimeUnavailableError) throw error;
      return error instanceof Error ? error.message : String(error);
    }
  }
}

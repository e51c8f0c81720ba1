import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { WORKSPACE_STATUSES } from '@builder/shared';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { DataSource } from 'typeorm';
import { AppConfig } from '../../config/app-config';
import { WORKSPACE_RUNTIME, type WorkspaceRuntime } from '../../shared/runtime/workspace-runtime.interface';
import { WorkspaceEventsService } from '../workspace/workspace-events.service';

const STATS_CACHE_MS = 10_000;

/**
 * Prometheus metrics of the builder: sessions by status, create durations, port pool use,
 * reconcile actions, and per-workspace CPU and memory read from the runtime's stats (in place of
 * cAdvisor). Gauges that need the database or the engine are computed when scraped.
 */
@Injectable()
export class MetricsService implements OnModuleDestroy {
  readonly registry = new Registry();
  private readonly startedAt = new Map<string, number>();
  private readonly unsubscribe: Array<() => void> = [];
  private statsCache: { at: number; rows: Array<{ id: string; cpu: number; memory: number }> } = {
    at: 0,
    rows: [],
  };

  readonly createDuration = new Histogram({
    name: 'builder_workspace_create_duration_seconds',
    help: 'From create request to a dev server that answers, per session',
    buckets: [0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 21, 34, 60],
    registers: [this.registry],
  });

  readonly reconcileActions = new Counter({
    name: 'builder_reconcile_actions_total',
    help: 'Corrections made by reconciliation and lifecycle jobs',
    labelNames: ['action'],
    registers: [this.registry],
  });

  constructor(
    private readonly config: AppConfig,
    @InjectDataSource() private readonly db: DataSource,
    @Inject(WORKSPACE_RUNTIME) private readonly runtime: WorkspaceRuntime,
    events: WorkspaceEventsService,
  ) {
    collectDefaultMetrics({ register: this.registry, prefix: 'builder_api_' });
    // prom-client calls `collect` with the metric as `this`; the service is reached through `self`.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    new Gauge({
      name: 'builder_workspace_sessions',
      help: 'Workspace sessions by status',
      labelNames: ['status'],
      registers: [this.registry],
      async collect() {
        const rows: Array<{ status: string; count: string }> = await self.db.query(
          `SELECT status::text AS status, count(*) AS count FROM workspace_sessions GROUP BY status`,
        );
        for (const status of WORKSPACE_STATUSES) this.set({ status }, 0);
        for (const row of rows) this.set({ status: row.status }, Number(row.count));
      },
    });
    new Gauge({
      name: 'builder_port_pool_in_use_ratio',
      help: 'Share of the preview port range held by active sessions',
      registers: [this.registry],
      async collect() {
        const [row]: Array<{ count: string }> = await self.db.query(
          `SELECT count(*) AS count FROM workspace_sessions WHERE port IS NOT NULL AND status IN ('creating','running','stopping')`,
        );
        const size = self.config.ports.end - self.config.ports.start + 1;
        this.set(Number(row?.count ?? 0) / size);
      },
    });
    new Gauge({
      name: 'builder_workspace_cpu_percent',
      help: 'CPU use of each running workspace, percent of one core',
      labelNames: ['session_id'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const row of await self.workspaceStats()) this.set({ session_id: row.id }, row.cpu);
      },
    });
    new Gauge({
      name: 'builder_workspace_memory_bytes',
      help: 'Memory use of each running workspace',
      labelNames: ['session_id'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const row of await self.workspaceStats()) this.set({ session_id: row.id }, row.memory);
      },
    });

    this.unsubscribe.push(
      events.on('build-status', (event) => {
        if (event.step === 'queued' || event.step === 'creating') {
          if (!this.startedAt.has(event.sessionId)) this.startedAt.set(event.sessionId, Date.parse(event.at));
        } else if (event.step === 'ready' || event.step === 'error') {
          const start = this.startedAt.get(event.sessionId);
          this.startedAt.delete(event.sessionId);
          if (event.step === 'ready' && start !== undefined)
            this.createDuration.observe((Date.parse(event.at) - start) / 1000);
        }
      }),
    );
  }

  onModuleDestroy(): void {
    for (const off of this.unsubscribe.splice(0)) off();
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  private async workspaceStats(): Promise<Array<{ id: string; cpu: number; memory: number }>> {
    if (Date.now() - this.statsCache.at < STATS_CACHE_MS) return this.statsCache.rows;
    const sessions: Array<{ id: string; container_id: string }> = await this.db.query(
      `SELECT id, container_id FROM workspace_sessions WHERE status = 'running' AND container_id IS NOT NULL`,
    );
    const rows = await Promise.all(
      sessions.map(async (s) => {
        try {
          const stats = await this.runtime.stats(s.container_id);
          return { id: s.id, cpu: stats.cpuPercent, memory: stats.memoryBytes };
        } catch {
          return null;
        }
      }),
    );
    this.statsCache = { at: Date.now(), rows: rows.filter((r): r is NonNullable<typeof r> => r !== null) };
    return this.statsCache.rows;
  }
}

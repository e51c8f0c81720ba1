import { Module } from '@nestjs/common';
import { ObservabilityModule } from '../../observability/observability.module';
import { WorkspaceModule } from '../workspace.module';
import { HealthMonitorService } from './health-monitor.service';
import { ReconcilerService } from './reconciler.service';
import { SessionCleanupService } from './session-cleanup.service';
import { SessionLifecycleService } from './session-lifecycle.service';

/**
 * Scheduled lifecycle of sessions: expiry and idle stop, health checks with one restart, and
 * reconciliation of the database with the runtime (at start-up and periodically). Needs
 * `ScheduleModule.forRoot()` once at the application's root.
 */
@Module({
  imports: [WorkspaceModule, ObservabilityModule],
  providers: [
    SessionCleanupService,
    SessionLifecycleService,
    HealthMonitorService,
    ReconcilerService,
  ],
  exports: [SessionCleanupService, ReconcilerService, HealthMonitorService, SessionLifecycleService],
})
export class LifecycleModule {}

import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '../../config/app-config';
import { RuntimeModule } from '../../shared/runtime/runtime.module';
import { AuthModule } from '../auth/auth.module';
import { ProjectsModule } from '../projects/projects.module';
import { LeaseService } from './cluster/lease.service';
import { SessionChangesService } from './cluster/session-changes.service';
import { SessionOwnershipService } from './cluster/session-ownership.service';
import { WorkspaceSessionEntity } from './entities/session.entity';
import { JobLock } from './lifecycle/job-lock.service';
import { HmrRelayService } from './hmr/hmr-relay.service';
import { HostPortProbe } from './host-port-probe.service';
import { WorkspaceLogsService } from './logs/workspace-logs.service';
import { WarmPoolService } from './pool/warm-pool.service';
import { PortAllocator } from './port-allocator.service';
import { ProjectSyncService } from './project-sync.service';
import { START_QUEUE, StartQueue } from './start-queue';
import { WorkspaceVerdictService } from './verdict/workspace-verdict.service';
import { WorkspaceController } from './workspace.controller';
import { WorkspaceEditsService } from './workspace-edits.service';
import { WorkspaceEventsService } from './workspace-events.service';
import { WorkspaceFilesService } from './workspace-files.service';
import { WorkspaceGateway } from './workspace.gateway';
import { WorkspaceSessionRepository } from './workspace-session.repository';
import { WorkspaceStorageService } from './workspace-storage.service';
import { WorkspaceService } from './workspace.service';
import { WorkspaceStarterService } from './workspace-starter.service';
import { WorkspaceRemovalService } from './workspace-removal.service';
import { PreviewUrlService } from './preview-url.service';

/**
 * Preview sessions: REST API, lifecycle service, port allocation, start queue and the event bus
 * the socket gateway relays. The runtime (docker, local or swarm) comes from RuntimeModule.
 */
@Module({
  imports: [
    TypeOrmModule.forFeature([WorkspaceSessionEntity]),
    AuthModule,
    ProjectsModule,
    RuntimeModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        runtime: config.runtime.choice,
        dockerSocket: config.runtime.dockerSocket,
        templateImage: config.runtime.templateImage,
        templateDir: config.runtime.templateDir,
        dataDir: config.dataDir,
        startTimeoutMs: config.runtime.startTimeoutMs,
        healthcheckIntervalMs: config.runtime.healthcheckIntervalMs,
        storageHardLimit: config.runtime.storageHardLimit,
        deploymentId: config.lifecycle.deploymentId,
        swarmAttachContainer: config.runtime.swarm.attachContainer,
        swarmCpuLimitCores: config.runtime.swarm.cpuLimitCores,
        swarmCpuReservationCores: config.runtime.swarm.cpuReservationCores,
        swarmPlacementConstraints: config.runtime.swarm.placementConstraints,
      }),
    }),
  ],
  controllers: [WorkspaceController],
  providers: [
    WorkspaceService,
    WorkspaceStarterService,
    WorkspaceRemovalService,
    PreviewUrlService,
    WorkspaceFilesService,
    WorkspaceEditsService,
    WorkspaceVerdictService,
    WorkspaceLogsService,
    WorkspaceStorageService,
    WorkspaceSessionRepository,
    WorkspaceEventsService,
    WorkspaceGateway,
    HmrRelayService,
    PortAllocator,
    HostPortProbe,
    ProjectSyncService,
    WarmPoolService,
    LeaseService,
    SessionChangesService,
    SessionOwnershipService,
    JobLock,
    {
      provide: START_QUEUE,
      inject: [AppConfig],
      useFactory: (config: AppConfig) => new StartQueue(config.sessions.startConcurrency),
    },
  ],
  exports: [
    WorkspaceService,
    WorkspaceEventsService,
    WorkspaceSessionRepository,
    HmrRelayService,
    WorkspaceLogsService,
    ProjectSyncService,
    WorkspaceStorageService,
    START_QUEUE,
    JobLock,
    LeaseService,
    SessionChangesService,
    SessionOwnershipService,
  ],
})
export class WorkspaceModule {}

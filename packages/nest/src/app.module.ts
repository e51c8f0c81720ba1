import { type DynamicModule, Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import type { Logger } from 'pino';
import { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { DatabaseModule } from './database/database.module';
import { AuthModule } from './modules/auth/auth.module';
import { ObservabilityModule } from './modules/observability/observability.module';
import { PreviewProxyModule } from './modules/preview-proxy/preview-proxy.module';
import { ProjectsModule } from './modules/projects/projects.module';
import { LifecycleModule } from './modules/workspace/lifecycle/lifecycle.module';
import { WorkspaceModule } from './modules/workspace/workspace.module';
import { LoggingModule } from './shared/logging/logging.module';
import { StorageModule } from './shared/storage/storage.module';

/** Root module, built from an already validated config (see `createApp`). */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig, logger: Logger): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggingModule.forRoot(logger),
        DatabaseModule,
        StorageModule,
        AuthModule,
        ProjectsModule,
        WorkspaceModule,
        PreviewProxyModule,
        ObservabilityModule,
        ScheduleModule.forRoot(),
        LifecycleModule,
      ],
    };
  }
}

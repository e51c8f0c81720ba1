import { Module } from '@nestjs/common';
import { WorkspaceModule } from '../workspace/workspace.module';
import { HealthController } from './health.controller';
import { MetricsService } from './metrics.service';

/** `/health`, `/health/ready` and `/metrics`. */
@Module({
  imports: [WorkspaceModule],
  controllers: [HealthController],
  providers: [MetricsService],
  exports: [MetricsService],
})
export class ObservabilityModule {}

import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { WorkspaceSessionEntity } from '../workspace/entities/session.entity';
import { WorkspaceModule } from '../workspace/workspace.module';
import { PreviewProxyService } from './preview-proxy.service';

/** Authenticated preview hosts (`<sessionId>-<token>.<domain>`) proxied to each session's dev server. */
@Module({
  imports: [TypeOrmModule.forFeature([WorkspaceSessionEntity]), WorkspaceModule],
  providers: [PreviewProxyService],
})
export class PreviewProxyModule {}

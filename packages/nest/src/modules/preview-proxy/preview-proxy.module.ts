import { Module } from '@nestjs/common';
import { WorkspaceModule } from '../workspace/workspace.module';
import { PreviewProxyService } from './preview-proxy.service';

/** Authenticated preview hosts (`<sessionId>-<token>.<domain>`) proxied to each session's dev server. */
@Module({
  imports: [WorkspaceModule],
  providers: [PreviewProxyService],
})
export class PreviewProxyModule {}

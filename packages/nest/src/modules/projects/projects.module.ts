import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { BlobStore } from './blob-store.service';
import { ProjectVersionsService } from './project-versions.service';
import { ProjectWorkspacesRegistry } from './project-workspaces.port';
import { ProjectsController } from './projects.controller';
import { ProjectsService } from './projects.service';

/**
 * Projects and their versions (manifests in PostgreSQL, blobs in the object store). The workspace
 * module uses it, and registers itself in {@link ProjectWorkspacesRegistry} so restores and
 * deletions reach the project's running sessions.
 */
@Module({
  imports: [AuthModule],
  controllers: [ProjectsController],
  providers: [ProjectsService, ProjectVersionsService, BlobStore, ProjectWorkspacesRegistry],
  exports: [ProjectsService, ProjectVersionsService, BlobStore, ProjectWorkspacesRegistry],
})
export class ProjectsModule {}

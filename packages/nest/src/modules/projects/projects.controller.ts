import {
  BadRequestException,
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  HttpStatus,
  Param,
  ParseUUIDPipe,
  Patch,
  Post,
  Query,
  Res,
  UseGuards,
} from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ApiErrorDto } from '../../shared/filters/api-error.dto';
import type { AuthenticatedUser } from '../auth/access-token';
import { CurrentUser } from '../auth/current-user.decorator';
import { JwtAuthGuard } from '../auth/jwt-auth.guard';
import {
  CreateProjectDto,
  ExportQueryDto,
  ListVersionsQueryDto,
  ProjectDto,
  ProjectVersionDto,
  RestoreVersionDto,
  UpdateProjectDto,
  VersionFileContentDto,
  VersionFilesDto,
} from './dto/project.dto';
import { ProjectsService } from './projects.service';

/** A UUID route parameter, refused with 400 naming it otherwise. */
const UuidParam = (name: string, label: string) =>
  Param(
    name,
    new ParseUUIDPipe({ exceptionFactory: () => new BadRequestException(`${label} must be a UUID`) }),
  );

@ApiTags('projects')
@ApiBearerAuth()
@UseGuards(JwtAuthGuard)
@ApiResponse({ status: 401, type: ApiErrorDto, description: 'Missing or invalid access token' })
@Controller('projects')
export class ProjectsController {
  constructor(private readonly projects: ProjectsService) {}

  @Get()
  @ApiOperation({ summary: 'My projects, most recently changed first' })
  @ApiResponse({ status: 200, type: [ProjectDto] })
  list(@CurrentUser() user: AuthenticatedUser): Promise<ProjectDto[]> {
    return this.projects.list(user.userId);
  }

  @Post()
  @ApiOperation({ summary: 'Create a project from the baseline template (its version 1)' })
  @ApiResponse({ status: 201, type: ProjectDto })
  create(@CurrentUser() user: AuthenticatedUser, @Body() dto: CreateProjectDto): Promise<ProjectDto> {
    return this.projects.create(user.userId, dto.name);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One project with its current version' })
  @ApiResponse({ status: 200, type: ProjectDto })
  @ApiResponse({ status: 404, type: ApiErrorDto })
  get(
    @CurrentUser() user: AuthenticatedUser,
    @UuidParam('id', 'project id') id: string,
  ): Promise<ProjectDto> {
    return this.projects.get(user.userId, id);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Rename a project' })
  @ApiResponse({ status: 200, type: ProjectDto })
  @ApiResponse({ status: 404, type: ApiErrorDto })
  rename(
    @CurrentUser() user: AuthenticatedUser,
    @UuidParam('id', 'project id') id: string,
    @Body() dto: UpdateProjectDto,
  ): Promise<ProjectDto> {
    return this.projects.rename(user.userId, id, dto.name);
  }

  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({
    summary: 'Delete a project: its sessions end, its versions and unshared blobs are removed',
  })
  @ApiResponse({ status: 204 })
  @ApiResponse({ status: 404, type: ApiErrorDto })
  async remove(
    @CurrentUser() user: AuthenticatedUser,
    @UuidParam('id', 'project id') id: string,
  ): Promise<void> {
    await this.projects.delete(user.userId, id);
  }

  @Get(':id/versions')
  @ApiOperation({ summary: 'Versions of a project, newest first' })
  @ApiResponse({ status: 200, type: [ProjectVersionDto] })
  @ApiResponse({ status: 404, type: ApiErrorDto })
  versions(
    @CurrentUser() user: AuthenticatedUser,
    @UuidParam('id', 'project id') id: string,
    @Query() query: ListVersionsQueryDto,
  ): Promise<ProjectVersionDto[]> {
    return this.projects.listVersions(user.userId, id, query);
  }

  @Get(':id/versions/:versionId/files')
  @ApiOperation({ summary: 'The files of a version (path, size, sha256)' })
  @ApiResponse({ status: 200, type: VersionFilesDto })
  @ApiResponse({ status: 404, type: ApiErrorDto })
  versionFiles(
    @CurrentUser() user: AuthenticatedUser,
    @UuidParam('id', 'project id') id: string,
    @UuidParam('versionId', 'version id') versionId: string,
  ): Promise<VersionFilesDto> {
    return this.projects.versionFiles(user.userId, id, versionId);
  }

  @Get(':id/versions/:versionId/files/*path')
  @ApiOperation({ summary: 'A file as it was in a version' })
  @ApiParam({ name: 'path', type: String, example: 'src/pages/index.astro' })
  @ApiResponse({ status: 200, type: VersionFileContentDto })
  @ApiResponse({ status: 400, type: ApiErrorDto, description: 'Bad path' })
  @ApiResponse({ status: 404, type: ApiErrorDto })
  versionFile(
    @CurrentUser() user: AuthenticatedUser,
    @UuidParam('id', 'project id') id: string,
    @UuidParam('versionId', 'version id') versionId: string,
    @Param('path') path: string | string[],
  ): Promise<VersionFileContentDto> {
    return this.projects.versionFile(user.userId, id, versionId, path);
  }

  @Post(':id/versions/:versionId/restore')
  @ApiOperation({ summary: 'Make a new version equal to this one; running sessions of the project show it' })
  @ApiResponse({ status: 201, type: RestoreVersionDto })
  @ApiResponse({ status: 404, type: ApiErrorDto })
  restore(
    @CurrentUser() user: AuthenticatedUser,
    @UuidParam('id', 'project id') id: string,
    @UuidParam('versionId', 'version id') versionId: string,
  ): Promise<RestoreVersionDto> {
    return this.projects.restore(user.userId, id, versionId);
  }

  @Get(':id/export')
  @ApiOperation({ summary: 'The current version as an archive (zip or tar.gz), streamed' })
  @ApiProduces('application/zip', 'application/gzip')
  @ApiResponse({ status: 200, description: 'The archive' })
  @ApiResponse({ status: 404, type: ApiErrorDto })
  async export(
    @CurrentUser() user: AuthenticatedUser,
    @UuidParam('id', 'project id') id: string,
    @Query() query: ExportQueryDto,
    @Res() res: Response,
  ): Promise<void> {
    const archive = await this.projects.export(user.userId, id, query.format ?? 'zip');
    res.setHeader('content-type', archive.contentType);
    res.setHeader('content-disposition', `attachment; filename="${archive.filename}"`);
    archive.stream.on('error', (error: Error) => {
      // Headers are gone: a broken archive must not look complete.
      res.destroy(error);
    });
    archive.stream.pipe(res);
  }
}

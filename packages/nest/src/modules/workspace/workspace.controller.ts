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
  Post,
  Put,
  UseGuards,
} from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrorDto } from '../../shared/filters/api-error.dto';
import type { AuthenticatedUser } from '../auth/access-token';
import { CurrentUser } from '../auth/current-user.decorator';
import { JwtAuthGuard } from '../auth/jwt-auth.guard';
import { CreateWorkspaceDto } from './dto/create-workspace.dto';
import { FileContentDto, FileTreeDto, WriteFileDto, WriteFileResultDto } from './dto/workspace-file.dto';
import { WorkspaceSessionDto } from './dto/workspace-session.dto';
import { WorkspaceFilesService } from './workspace-files.service';
import { WorkspaceService } from './workspace.service';

/** The `:id` route parameter, refused with 400 unless it is a UUID. */
const SessionId = () =>
  Param(
    'id',
    new ParseUUIDPipe({ exceptionFactory: () => new BadRequestException('session id must be a UUID') }),
  );

@ApiTags('workspace')
@ApiBearerAuth()
@UseGuards(JwtAuthGuard)
@ApiResponse({ status: 401, type: ApiErrorDto, description: 'Missing or invalid access token' })
@Controller('workspace')
export class WorkspaceController {
  constructor(
    private readonly workspaces: WorkspaceService,
    private readonly files: WorkspaceFilesService,
  ) {}

  @Post('create')
  @ApiOperation({ summary: 'Create a preview session; answers while the workspace starts (status creating)' })
  @ApiResponse({ status: 201, type: WorkspaceSessionDto })
  @ApiResponse({ status: 429, type: ApiErrorDto, description: 'Per-user session limit reached' })
  @ApiResponse({ status: 503, type: ApiErrorDto, description: 'Runtime unreachable or no preview port free' })
  create(
    @CurrentUser() user: AuthenticatedUser,
    @Body() dto: CreateWorkspaceDto,
  ): Promise<WorkspaceSessionDto> {
    return this.workspaces.create(user.userId, dto);
  }

  @Get()
  @ApiOperation({ summary: 'My sessions, active ones first' })
  @ApiResponse({ status: 200, type: [WorkspaceSessionDto] })
  list(@CurrentUser() user: AuthenticatedUser): Promise<WorkspaceSessionDto[]> {
    return this.workspaces.list(user.userId);
  }

  @Get(':id/status')
  @ApiOperation({ summary: 'Status of one session' })
  @ApiResponse({ status: 200, type: WorkspaceSessionDto })
  @ApiResponse({ status: 404, type: ApiErrorDto })
  status(@CurrentUser() user: AuthenticatedUser, @SessionId() id: string): Promise<WorkspaceSessionDto> {
    return this.workspaces.status(user.userId, id);
  }

  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'End a session: container and volume removed, port released (idempotent)' })
  @ApiResponse({ status: 204 })
  @ApiResponse({ status: 404, type: ApiErrorDto })
  async remove(@CurrentUser() user: AuthenticatedUser, @SessionId() id: string): Promise<void> {
    await this.workspaces.remove(user.userId, id);
  }

  @Post(':id/restart')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({ summary: 'Restart the dev server of a running session; answers while it restarts' })
  @ApiResponse({ status: 202, type: WorkspaceSessionDto })
  @ApiResponse({ status: 409, type: ApiErrorDto, description: 'Session is not running' })
  restart(@CurrentUser() user: AuthenticatedUser, @SessionId() id: string): Promise<WorkspaceSessionDto> {
    return this.workspaces.restart(user.userId, id);
  }

  @Get(':id/files')
  @ApiOperation({ summary: 'The workspace files (without node_modules and caches)' })
  @ApiResponse({ status: 200, type: FileTreeDto })
  listFiles(@CurrentUser() user: AuthenticatedUser, @SessionId() id: string): Promise<FileTreeDto> {
    return this.files.list(user.userId, id);
  }

  @Get(':id/files/*path')
  @ApiOperation({ summary: 'Read a workspace file as UTF-8 text' })
  @ApiParam({ name: 'path', type: String, example: 'src/pages/index.astro' })
  @ApiResponse({ status: 200, type: FileContentDto })
  @ApiResponse({
    status: 400,
    type: ApiErrorDto,
    description: 'Path outside the workspace or not a text file',
  })
  @ApiResponse({ status: 404, type: ApiErrorDto })
  readFile(
    @CurrentUser() user: AuthenticatedUser,
    @SessionId() id: string,
    @Param('path') path: string | string[],
  ): Promise<FileContentDto> {
    return this.files.read(user.userId, id, path);
  }

  @Put(':id/files/*path')
  @ApiOperation({ summary: 'Write a workspace file (UTF-8 text); the dev server picks it up through HMR' })
  @ApiParam({ name: 'path', type: String, example: 'src/pages/index.astro' })
  @ApiResponse({ status: 200, type: WriteFileResultDto })
  @ApiResponse({
    status: 400,
    type: ApiErrorDto,
    description: 'Bad path, node_modules, too large, not a string',
  })
  writeFile(
    @CurrentUser() user: AuthenticatedUser,
    @SessionId() id: string,
    @Param('path') path: string | string[],
    @Body() dto: WriteFileDto,
  ): Promise<WriteFileResultDto> {
    return this.files.write(user.userId, id, path, dto.content);
  }
}

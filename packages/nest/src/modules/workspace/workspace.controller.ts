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
  Query,
  UseGuards,
} from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrorDto } from '../../shared/filters/api-error.dto';
import type { AuthenticatedUser } from '../auth/access-token';
import { CurrentUser } from '../auth/current-user.decorator';
import { JwtAuthGuard } from '../auth/jwt-auth.guard';
import { CreateWorkspaceDto } from './dto/create-workspace.dto';
import {
  DeleteFileResultDto,
  EditBatchDto,
  EditBatchResultDto,
  MoveFileDto,
  MoveFileResultDto,
} from './dto/workspace-edit.dto';
import {
  FileContentDto,
  FileTreeDto,
  VerifyQueryDto,
  WriteFileDto,
  WriteFileResultDto,
} from './dto/workspace-file.dto';
import { LogsQueryDto, WorkspaceLogsDto } from './dto/workspace-logs.dto';
import { WorkspaceSessionDto } from './dto/workspace-session.dto';
import { WorkspaceLogsService } from './logs/workspace-logs.service';
import { WorkspaceEditsService } from './workspace-edits.service';
import { WorkspaceFilesService } from './workspace-files.service';
import { WorkspaceService } from './workspace.service';

const VERIFY_NOTE =
  ' With `verify=true` it answers once the dev server compiled what the change affects (its pages, its style module), adding `ok` and `errors`; without it the verdict follows on the socket (`ok` or `error`).';

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
    private readonly edits: WorkspaceEditsService,
    private readonly logs: WorkspaceLogsService,
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
  @ApiOperation({
    summary: 'Write a workspace file (UTF-8 text); the dev server picks it up through HMR',
    description: `One project version (quick rewrites of one file are grouped).${VERIFY_NOTE}`,
  })
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
    @Query() query: VerifyQueryDto,
  ): Promise<WriteFileResultDto> {
    return this.files.write(user.userId, id, path, dto.content, { verify: query.verify === true });
  }

  @Delete(':id/files/*path')
  @ApiOperation({
    summary: 'Delete a workspace file',
    description: `One project version without the file.${VERIFY_NOTE}`,
  })
  @ApiParam({ name: 'path', type: String, example: 'src/components/Old.astro' })
  @ApiResponse({ status: 200, type: DeleteFileResultDto })
  @ApiResponse({ status: 400, type: ApiErrorDto, description: 'Bad path, a folder, node_modules' })
  @ApiResponse({ status: 404, type: ApiErrorDto, description: 'No such session or file' })
  deleteFile(
    @CurrentUser() user: AuthenticatedUser,
    @SessionId() id: string,
    @Param('path') path: string | string[],
    @Query() query: VerifyQueryDto,
  ): Promise<DeleteFileResultDto> {
    return this.edits.delete(user.userId, id, path, query.verify === true);
  }

  @Post(':id/files/move')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Rename or move a workspace file',
    description: `Its content is written at \`to\` (which must not exist) and \`from\` deleted, as one change and one project version.${VERIFY_NOTE}`,
  })
  @ApiResponse({ status: 200, type: MoveFileResultDto })
  @ApiResponse({ status: 400, type: ApiErrorDto, description: 'Bad path, the same path, a folder' })
  @ApiResponse({ status: 404, type: ApiErrorDto, description: 'No such session or file' })
  @ApiResponse({
    status: 409,
    type: ApiErrorDto,
    description: 'The target exists, or the session is not running',
  })
  moveFile(
    @CurrentUser() user: AuthenticatedUser,
    @SessionId() id: string,
    @Body() dto: MoveFileDto,
  ): Promise<MoveFileResultDto> {
    return this.edits.move(user.userId, id, dto);
  }

  @Post(':id/edits')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Write and delete several workspace files as one change',
    description:
      'Every path and size is checked first (the rules of a single write; no path twice, none both written and deleted, at most MAX_EDIT_ENTRIES), then against the workspace (deleted files exist, no write onto a folder); then all of it is applied as one project version and the preview reloads once, or none of it is.' +
      VERIFY_NOTE.replace('`verify=true`', '`verify: true`'),
  })
  @ApiResponse({ status: 200, type: EditBatchResultDto })
  @ApiResponse({
    status: 400,
    type: ApiErrorDto,
    description: 'A bad entry (named), an empty or too large edit',
  })
  @ApiResponse({
    status: 404,
    type: ApiErrorDto,
    description: 'No such session, or a deleted file does not exist',
  })
  @ApiResponse({ status: 409, type: ApiErrorDto, description: 'The session is not running' })
  edit(
    @CurrentUser() user: AuthenticatedUser,
    @SessionId() id: string,
    @Body() dto: EditBatchDto,
  ): Promise<EditBatchResultDto> {
    return this.edits.edit(user.userId, id, dto);
  }

  @Get(':id/logs')
  @ApiOperation({ summary: "The dev server's recent output lines (stdout and stderr), oldest first" })
  @ApiResponse({ status: 200, type: WorkspaceLogsDto })
  @ApiResponse({ status: 404, type: ApiErrorDto })
  @ApiResponse({ status: 409, type: ApiErrorDto, description: 'The session is not running' })
  async logsOf(
    @CurrentUser() user: AuthenticatedUser,
    @SessionId() id: string,
    @Query() query: LogsQueryDto,
  ): Promise<WorkspaceLogsDto> {
    return { lines: await this.logs.tail(user.userId, id, query.tail ?? 100) };
  }
}

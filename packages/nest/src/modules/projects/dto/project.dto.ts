import {
  type CreateProjectRequest,
  EXPORT_FORMATS,
  type ExportFormat,
  type Project,
  type ProjectVersion,
  type RestoreVersionResponse,
  type UpdateProjectRequest,
  VERSION_KINDS,
  type VersionFileContent,
  type VersionFileEntry,
  type VersionFilesResponse,
  type VersionKind,
} from '@builder/shared';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsDefined, IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';

/** Longest project name, in characters. */
export const MAX_PROJECT_NAME = 100;
/** A name: visible characters (no control characters), not blank. */
const NAME_PATTERN = /^(?!\s*$)[^\u0000-\u001f\u007f]+$/;

export class ProjectVersionDto implements ProjectVersion {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ example: 3 })
  number: number;

  @ApiProperty({ enum: VERSION_KINDS, example: 'edit' })
  kind: VersionKind;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;

  @ApiProperty({
    format: 'date-time',
    description: 'Later than createdAt when quick writes of one file were grouped into it',
  })
  updatedAt: string;

  @ApiProperty({ type: String, format: 'uuid', nullable: true, description: 'Session whose change made it' })
  authorSessionId: string | null;

  @ApiProperty({
    type: String,
    format: 'uuid',
    nullable: true,
    description: 'For a restore: the version it copies',
  })
  restoredFromVersionId: string | null;

  @ApiProperty({ type: [String], example: ['src/pages/index.astro'] })
  changedPaths: string[];

  @ApiProperty({ example: 1 })
  filesChanged: number;

  @ApiProperty({ example: 12 })
  fileCount: number;

  @ApiProperty({ example: 204800, description: 'Total size of its files, in bytes' })
  totalSize: number;
}

export class ProjectDto implements Project {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ example: 'Landing page 1' })
  name: string;

  @ApiProperty({ example: 'baseline-landing' })
  templateName: string;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;

  @ApiProperty({ format: 'date-time' })
  updatedAt: string;

  @ApiProperty({ type: ProjectVersionDto, nullable: true })
  currentVersion: ProjectVersionDto | null;
}

export class CreateProjectDto implements CreateProjectRequest {
  @ApiPropertyOptional({ maxLength: MAX_PROJECT_NAME, example: 'Spring sale' })
  @IsOptional()
  @IsString({ message: 'name must be a string' })
  @MaxLength(MAX_PROJECT_NAME, { message: `name must be at most ${MAX_PROJECT_NAME} characters` })
  @Matches(NAME_PATTERN, { message: 'name must not be blank or hold control characters' })
  name?: string;
}

export class UpdateProjectDto implements UpdateProjectRequest {
  @ApiProperty({ maxLength: MAX_PROJECT_NAME, example: 'Spring sale' })
  @IsDefined({ message: 'name is required' })
  @IsString({ message: 'name must be a string' })
  @MaxLength(MAX_PROJECT_NAME, { message: `name must be at most ${MAX_PROJECT_NAME} characters` })
  @Matches(NAME_PATTERN, { message: 'name must not be blank or hold control characters' })
  name: string;
}

export class ListVersionsQueryDto {
  @ApiPropertyOptional({ default: 50, minimum: 1, maximum: 200 })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'limit must be an integer' })
  @Min(1, { message: 'limit must be at least 1' })
  @Max(200, { message: 'limit must be at most 200' })
  limit?: number;

  @ApiPropertyOptional({ description: 'Only versions numbered below this one (the next page)' })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'before must be an integer' })
  @Min(1, { message: 'before must be at least 1' })
  before?: number;
}

export class ExportQueryDto {
  @ApiPropertyOptional({ enum: EXPORT_FORMATS, default: 'zip' })
  @IsOptional()
  @IsIn(EXPORT_FORMATS, { message: `format must be one of: ${EXPORT_FORMATS.join(', ')}` })
  format?: ExportFormat;
}

export class VersionFileEntryDto implements VersionFileEntry {
  @ApiProperty({ example: 'src/pages/index.astro' })
  path: string;

  @ApiProperty({ example: 2048 })
  size: number;

  @ApiProperty({ example: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' })
  sha256: string;
}

export class VersionFilesDto implements VersionFilesResponse {
  @ApiProperty({ format: 'uuid' })
  versionId: string;

  @ApiProperty({ example: 3 })
  number: number;

  @ApiProperty({ type: [VersionFileEntryDto] })
  files: VersionFileEntryDto[];
}

export class VersionFileContentDto implements VersionFileContent {
  @ApiProperty({ example: 'src/pages/index.astro' })
  path: string;

  @ApiProperty({ example: 2048 })
  size: number;

  @ApiProperty()
  sha256: string;

  @ApiProperty({ enum: ['utf8', 'base64'], description: 'base64 for content that is not UTF-8 text' })
  encoding: 'utf8' | 'base64';

  @ApiProperty()
  content: string;
}

export class RestoreVersionDto implements RestoreVersionResponse {
  @ApiProperty({
    type: ProjectVersionDto,
    description: 'The new version, equal in content to the restored one',
  })
  version: ProjectVersionDto;

  @ApiProperty({ type: [String], description: 'Running sessions of the project whose files were replaced' })
  sessionsUpdated: string[];
}

import type {
  CompileError,
  FileContentResponse,
  FileEntryType,
  FileTreeEntry,
  FileTreeResponse,
  WriteFileRequest,
  WriteFileResponse,
} from '@builder/shared';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsDefined, IsOptional, IsString } from 'class-validator';

/** `true`/`1` and `false`/`0` of a query string as booleans; anything else is left for the validator. */
export function queryBoolean({ value }: { value: unknown }): unknown {
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  return value;
}

export class VerifyQueryDto {
  @ApiPropertyOptional({
    type: Boolean,
    default: false,
    description:
      'Answer only after the dev server compiled what the change affects, with its verdict (ok, errors)',
  })
  @IsOptional()
  @Transform(queryBoolean)
  @IsBoolean({ message: 'verify must be true or false' })
  verify?: boolean;
}

export class CompileErrorDto implements CompileError {
  @ApiPropertyOptional({ example: 'src/components/Card.astro', description: 'Workspace-relative' })
  file?: string;

  @ApiPropertyOptional({ example: 12, description: '1-based' })
  line?: number;

  @ApiPropertyOptional({ example: 5, description: '1-based' })
  column?: number;

  @ApiProperty({ example: 'Expected "}" but found ")"' })
  message: string;

  @ApiPropertyOptional({ description: "The dev server's code frame around the spot" })
  frame?: string;
}

/** The verdict fields of an answer that asked for `verify`. */
export class VerdictFieldsDto {
  @ApiPropertyOptional({
    description: 'With verify: whether everything the change affects compiles',
  })
  ok?: boolean;

  @ApiPropertyOptional({ type: [CompileErrorDto], description: 'With verify: empty when ok' })
  errors?: CompileErrorDto[];
}

export class FileTreeEntryDto implements FileTreeEntry {
  @ApiProperty({ example: 'src/pages/index.astro' })
  path: string;

  @ApiProperty({ enum: ['file', 'directory'] })
  type: FileEntryType;

  @ApiPropertyOptional({ example: 2048 })
  size?: number;
}

export class FileTreeDto implements FileTreeResponse {
  @ApiProperty({ type: [FileTreeEntryDto] })
  entries: FileTreeEntryDto[];
}

export class FileContentDto implements FileContentResponse {
  @ApiProperty({ example: 'src/pages/index.astro' })
  path: string;

  @ApiProperty({ description: 'UTF-8 text of the file' })
  content: string;
}

export class WriteFileDto implements WriteFileRequest {
  @ApiProperty({ description: 'UTF-8 text; at most MAX_FILE_BYTES bytes once encoded' })
  @IsDefined({ message: 'content is required' })
  @IsString({ message: 'content must be a string' })
  content: string;
}

export class WrittenVersionDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ example: 4 })
  number: number;
}

export class WriteFileResultDto extends VerdictFieldsDto implements WriteFileResponse {
  @ApiProperty({ example: 'src/pages/index.astro' })
  path: string;

  @ApiProperty({ example: 2048, description: 'Bytes written' })
  size: number;

  @ApiProperty({
    type: WrittenVersionDto,
    nullable: true,
    description: 'The project version holding the write (durable when this answer is sent)',
  })
  version: WrittenVersionDto | null;
}

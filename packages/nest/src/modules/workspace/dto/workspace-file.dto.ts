import type {
  FileContentResponse,
  FileEntryType,
  FileTreeEntry,
  FileTreeResponse,
  WriteFileRequest,
  WriteFileResponse,
} from '@builder/shared';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsDefined, IsString } from 'class-validator';

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

export class WriteFileResultDto implements WriteFileResponse {
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

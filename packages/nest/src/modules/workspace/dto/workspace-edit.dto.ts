import type {
  DeleteFileResponse,
  EditBatchRequest,
  EditBatchResponse,
  MoveFileRequest,
  MoveFileResponse,
} from '@builder/shared';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsArray, IsBoolean, IsDefined, IsOptional, IsString, ValidateNested } from 'class-validator';
import { VerdictFieldsDto, WrittenVersionDto } from './workspace-file.dto';

export class EditWriteDto {
  @ApiProperty({ example: 'src/components/Hero.astro' })
  @IsDefined({ message: 'path is required' })
  @IsString({ message: 'path must be a string' })
  path: string;

  @ApiProperty({ description: 'UTF-8 text; at most MAX_FILE_BYTES bytes once encoded' })
  @IsDefined({ message: 'content is required' })
  @IsString({ message: 'content must be a string' })
  content: string;
}

export class EditBatchDto implements EditBatchRequest {
  @ApiPropertyOptional({ type: [EditWriteDto], description: 'Files to write (created with their folders)' })
  @IsOptional()
  @IsArray({ message: 'writes must be an array of { path, content }' })
  @ValidateNested({ each: true })
  @Type(() => EditWriteDto)
  writes?: EditWriteDto[];

  @ApiPropertyOptional({
    type: [String],
    example: ['src/components/Old.astro'],
    description: 'Files to delete',
  })
  @IsOptional()
  @IsArray({ message: 'deletes must be an array of paths' })
  @IsString({ each: true, message: 'each delete must be a path string' })
  deletes?: string[];

  @ApiPropertyOptional({
    default: false,
    description: 'Answer only after the dev server compiled what the change affects, with its verdict',
  })
  @IsOptional()
  @IsBoolean({ message: 'verify must be true or false' })
  verify?: boolean;
}

export class WrittenFileDto {
  @ApiProperty({ example: 'src/components/Hero.astro' })
  path: string;

  @ApiProperty({ example: 2048, description: 'Bytes written' })
  size: number;
}

export class EditBatchResultDto extends VerdictFieldsDto implements EditBatchResponse {
  @ApiProperty({ type: [WrittenFileDto] })
  written: WrittenFileDto[];

  @ApiProperty({ type: [String] })
  deleted: string[];

  @ApiProperty({
    type: WrittenVersionDto,
    nullable: true,
    description: 'The one project version holding the whole edit (durable when this answer is sent)',
  })
  version: WrittenVersionDto | null;
}

export class DeleteFileResultDto extends VerdictFieldsDto implements DeleteFileResponse {
  @ApiProperty({ example: 'src/components/Old.astro' })
  path: string;

  @ApiProperty({ type: WrittenVersionDto, nullable: true, description: 'The version without the file' })
  version: WrittenVersionDto | null;
}

export class MoveFileDto implements MoveFileRequest {
  @ApiProperty({ example: 'src/components/Card.astro' })
  @IsDefined({ message: 'from is required' })
  @IsString({ message: 'from must be a path string' })
  from: string;

  @ApiProperty({ example: 'src/components/FeatureCard.astro', description: 'Must not exist yet' })
  @IsDefined({ message: 'to is required' })
  @IsString({ message: 'to must be a path string' })
  to: string;

  @ApiPropertyOptional({ default: false, description: 'Answer after the compile verdict' })
  @IsOptional()
  @IsBoolean({ message: 'verify must be true or false' })
  verify?: boolean;
}

export class MoveFileResultDto extends VerdictFieldsDto implements MoveFileResponse {
  @ApiProperty({ example: 'src/components/Card.astro' })
  from: string;

  @ApiProperty({ example: 'src/components/FeatureCard.astro' })
  to: string;

  @ApiProperty({ example: 2048, description: 'Bytes moved' })
  size: number;

  @ApiProperty({ type: WrittenVersionDto, nullable: true, description: 'The version holding the move' })
  version: WrittenVersionDto | null;
}

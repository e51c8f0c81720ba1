import type { WorkspaceLogsResponse } from '@builder/shared';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

/** Most lines one logs request answers. */
export const MAX_LOG_TAIL = 2_000;

export class LogsQueryDto {
  @ApiPropertyOptional({ default: 100, minimum: 1, maximum: MAX_LOG_TAIL })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'tail must be an integer' })
  @Min(1, { message: 'tail must be at least 1' })
  @Max(MAX_LOG_TAIL, { message: `tail must be at most ${MAX_LOG_TAIL}` })
  tail?: number;
}

export class WorkspaceLogsDto implements WorkspaceLogsResponse {
  @ApiProperty({
    type: [String],
    example: [' astro  v4.16.19 ready in 1222 ms', '15:28:22 [watch] src/pages/index.astro'],
    description: "The dev server's last output lines (stdout and stderr), oldest first",
  })
  lines: string[];
}

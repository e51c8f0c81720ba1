import type { ApiErrorResponse } from '@builder/shared';
import { ApiProperty } from '@nestjs/swagger';

/** OpenAPI description of the one error shape. */
export class ApiErrorDto implements ApiErrorResponse {
  @ApiProperty({ example: 400 })
  statusCode: number;

  @ApiProperty({ example: 'Bad Request' })
  error: string;

  @ApiProperty({ example: 'invalid workspace path: ".." segments are not allowed' })
  message: string;

  @ApiProperty({ example: '/api/v1/workspace/3f1c.../files/../etc/passwd' })
  path: string;

  @ApiProperty({ format: 'date-time' })
  timestamp: string;
}

import type { AuthTokenResponse, UserProfile } from '@builder/shared';
import { ApiProperty } from '@nestjs/swagger';

export class AuthTokenDto implements AuthTokenResponse {
  @ApiProperty({ description: 'JWT to send as `Authorization: Bearer <token>`' })
  accessToken: string;
}

export class UserProfileDto implements UserProfile {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ example: 'ada@example.com' })
  email: string;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;
}

import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import type { IncomingMessage } from 'node:http';
import { type AuthenticatedUser, extractBearerToken, verifyAccessToken } from './access-token';

/** HTTP request after {@link JwtAuthGuard}. */
export interface AuthenticatedRequest extends IncomingMessage {
  user: AuthenticatedUser;
}

/** Requires `Authorization: Bearer <access token>`; puts the caller on `request.user`. */
@Injectable()
export class JwtAuthGuard implements CanActivate {
  constructor(private readonly jwt: JwtService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    request.user = await verifyAccessToken(this.jwt, extractBearerToken(request.headers.authorization));
    return true;
  }
}

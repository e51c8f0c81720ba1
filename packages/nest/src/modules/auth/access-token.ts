import type { JwtService } from '@nestjs/jwt';
import { InvalidTokenError } from '../../shared/errors/invalid-token.error';

/** Claims of an access token: `sub` is the user id. */
export interface AccessTokenPayload {
  sub: string;
  email: string;
}

/** The caller as established from a verified access token. */
export interface AuthenticatedUser {
  userId: string;
  email: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function extractBearerToken(header: string | string[] | undefined): string | null {
  if (typeof header !== 'string') return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1] : null;
}

/**
 * Verifies an access token (signature, expiry, claims). Shared by the HTTP guard and the socket
 * gateway's handshake. Throws {@link InvalidTokenError}.
 */
export async function verifyAccessToken(
  jwt: JwtService,
  token: string | null | undefined,
): Promise<AuthenticatedUser> {
  if (!token) throw new InvalidTokenError();
  let payload: Partial<AccessTokenPayload>;
  try {
    payload = await jwt.verifyAsync<AccessTokenPayload>(token);
  } catch (error) {
    const expired = (error as Error).name === 'TokenExpiredError';
    throw new InvalidTokenError(expired ? 'access token expired; log in again' : 'access token is invalid');
  }
  if (typeof payload.sub !== 'string' || !UUID.test(payload.sub)) {
    throw new InvalidTokenError('access token is invalid');
  }
  return { userId: payload.sub, email: typeof payload.email === 'string' ? payload.email : '' };
}

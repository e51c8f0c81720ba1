import { randomBytes, timingSafeEqual } from 'node:crypto';

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const LABEL = new RegExp(`^(${UUID})-([0-9a-z]{26})$`);

/** An unguessable preview capability: 26 base-32 characters (130 bits), lower case for host names. */
export function newPreviewToken(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const bytes = randomBytes(26);
  let token = '';
  for (const byte of bytes) token += alphabet[byte & 31];
  return token;
}

/** `<sessionId>-<token>`: 63 characters, the longest a DNS label may be. */
export function previewLabel(sessionId: string, token: string): string {
  return `${sessionId.toLowerCase()}-${token}`;
}

export function previewOrigin(sessionId: string, token: string, domain: string, port: number): string {
  return `http://${previewLabel(sessionId, token)}.${domain}${port === 80 ? '' : `:${port}`}`;
}

export type ParsedPreviewHost =
  { kind: 'not-preview' } | { kind: 'malformed' } | { kind: 'preview'; sessionId: string; token: string };

/**
 * Classifies a Host header: not under the preview domain (the API's own traffic), a preview host
 * whose label is malformed, or a preview host naming a session and its token.
 */
export function parsePreviewHost(hostHeader: string | undefined, domain: string): ParsedPreviewHost {
  if (!hostHeader) return { kind: 'not-preview' };
  const host = hostHeader.toLowerCase().replace(/:\d+$/, '');
  const suffix = `.${domain.toLowerCase()}`;
  if (!host.endsWith(suffix)) return { kind: 'not-preview' };
  const label = host.slice(0, -suffix.length);
  const match = LABEL.exec(label);
  if (!match) return { kind: 'malformed' };
  return { kind: 'preview', sessionId: match[1], token: match[2] };
}

export function tokensEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

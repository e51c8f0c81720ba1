import type { IncomingHttpHeaders } from 'node:http';

/** The policy every preview response carries: only the web app's pages may frame a preview. */
export function frameAncestorsPolicy(webOrigins: readonly string[]): string {
  return `frame-ancestors ${webOrigins.join(' ')}`;
}

/**
 * Applies the preview's access rules to a dev server's response headers, in place, keeping the
 * rest as the dev server sent them:
 * - CORS headers reach only the web app's origins. Vite answers CORS for any localhost or
 *   127.0.0.1 origin by default, so another page on the machine could otherwise read the HTML.
 * - `policy` (see {@link frameAncestorsPolicy}) is added beside any policy of the dev server's own;
 *   a browser enforces every Content-Security-Policy header it gets.
 */
export function restrictPreviewHeaders(
  headers: IncomingHttpHeaders,
  requestOrigin: string | undefined,
  webOrigins: readonly string[],
  policy: string,
): void {
  if (requestOrigin === undefined || !webOrigins.includes(requestOrigin)) {
    for (const name of Object.keys(headers)) if (name.startsWith('access-control-')) delete headers[name];
  }
  const existing = headers['content-security-policy'];
  const policies = existing === undefined ? [] : Array.isArray(existing) ? existing : [existing];
  if (!policies.includes(policy)) headers['content-security-policy'] = [...policies, policy].join(', ');
}

import { describe, expect, it } from 'vitest';
import { frameAncestorsPolicy, restrictPreviewHeaders } from './preview-headers';

const WEB = ['http://localhost:3001', 'http://127.0.0.1:3001'];
const POLICY = frameAncestorsPolicy(WEB);

describe('preview response headers', () => {
  it('lets only the web app frame a preview', () => {
    expect(POLICY).toBe('frame-ancestors http://localhost:3001 http://127.0.0.1:3001');
    const headers = { 'content-type': 'text/html' };
    restrictPreviewHeaders(headers, undefined, WEB, POLICY);
    expect(headers).toEqual({ 'content-type': 'text/html', 'content-security-policy': POLICY });
  });

  it("drops the dev server's CORS answer for any origin but the web app's", () => {
    const cors = () => ({
      'access-control-allow-origin': 'http://127.0.0.1:9999',
      'access-control-allow-methods': 'GET',
      vary: 'Origin',
    });
    const foreign = cors();
    restrictPreviewHeaders(foreign, 'http://127.0.0.1:9999', WEB, POLICY);
    expect(foreign).toEqual({ vary: 'Origin', 'content-security-policy': POLICY });

    const app = { ...cors(), 'access-control-allow-origin': 'http://localhost:3001' };
    restrictPreviewHeaders(app, 'http://localhost:3001', WEB, POLICY);
    expect(app['access-control-allow-origin']).toBe('http://localhost:3001');
  });

  it("keeps the dev server's own policy beside ours, and never repeats ours", () => {
    const own = { 'content-security-policy': "script-src 'self'" };
    restrictPreviewHeaders(own, undefined, WEB, POLICY);
    expect(own['content-security-policy']).toBe(`script-src 'self', ${POLICY}`);
    const same = { 'content-security-policy': POLICY };
    restrictPreviewHeaders(same, undefined, WEB, POLICY);
    expect(same['content-security-policy']).toBe(POLICY);
  });
});

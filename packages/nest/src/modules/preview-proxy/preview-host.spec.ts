import { describe, expect, it } from 'vitest';
import { newPreviewToken, parsePreviewHost, previewLabel, previewOrigin, tokensEqual } from './preview-host';

const id = '3f2b8c1e-9a4d-4e7b-8c2a-1b2c3d4e5f60';

describe('preview hosts', () => {
  it('makes labels that fit in one DNS label and parse back', () => {
    const token = newPreviewToken();
    expect(token).toMatch(/^[a-z2-7]{26}$/);
    const label = previewLabel(id, token);
    expect(label.length).toBeLessThanOrEqual(63);
    expect(parsePreviewHost(`${label}.preview.localhost:3000`, 'preview.localhost')).toEqual({
      kind: 'preview',
      sessionId: id,
      token,
    });
    expect(previewOrigin(id, token, 'preview.localhost', 3000)).toBe(
      `http://${label}.preview.localhost:3000`,
    );
  });

  it('tells API traffic, malformed labels and upper-case hosts apart', () => {
    expect(parsePreviewHost('localhost:3000', 'preview.localhost')).toEqual({ kind: 'not-preview' });
    expect(parsePreviewHost(undefined, 'preview.localhost')).toEqual({ kind: 'not-preview' });
    expect(parsePreviewHost('evil.preview.localhost', 'preview.localhost')).toEqual({ kind: 'malformed' });
    expect(parsePreviewHost(`${id}.preview.localhost`, 'preview.localhost')).toEqual({ kind: 'malformed' });
    const token = newPreviewToken();
    expect(
      parsePreviewHost(`${previewLabel(id, token).toUpperCase()}.PREVIEW.localhost`, 'preview.localhost'),
    ).toEqual({
      kind: 'preview',
      sessionId: id,
      token,
    });
  });

  it('compares tokens in constant time and by length', () => {
    expect(tokensEqual('abc', 'abc')).toBe(true);
    expect(tokensEqual('abc', 'abd')).toBe(false);
    expect(tokensEqual('abc', 'abcd')).toBe(false);
  });
});

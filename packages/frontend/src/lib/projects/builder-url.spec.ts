import { describe, expect, it } from 'vitest';
import { builderUrl, requestedProjectId } from './builder-url';

describe('builder URL', () => {
  it('names the project in the query', () => {
    expect(builderUrl('0b1c2d3e-0000-4000-8000-000000000001')).toBe(
      '/builder?project=0b1c2d3e-0000-4000-8000-000000000001',
    );
    expect(builderUrl('a b&c')).toBe('/builder?project=a%20b%26c');
  });

  it('reads the first non-blank value a URL gives', () => {
    expect(requestedProjectId(' p1 ')).toBe('p1');
    expect(requestedProjectId(['p2', 'p3'])).toBe('p2');
    expect(requestedProjectId('  ')).toBeNull();
    expect(requestedProjectId(undefined)).toBeNull();
    expect(requestedProjectId(null)).toBeNull();
  });
});

import { describe, expect, it } from 'vitest';
import { WorkspaceFileError } from './runtime.errors';
import {
  assertSessionId,
  isIgnoredWorkspacePath,
  isInside,
  normalizeWorkspacePath,
  parentDirs,
} from './workspace-path.util';

function reason(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return error instanceof WorkspaceFileError ? error.reason : 'other';
  }
  return undefined;
}

describe('normalizeWorkspacePath', () => {
  it('normalizes separators, dots and trailing slashes', () => {
    expect(normalizeWorkspacePath('src/pages/index.astro')).toBe('src/pages/index.astro');
    expect(normalizeWorkspacePath('./src//pages/../pages/index.astro')).toBe('src/pages/index.astro');
    expect(normalizeWorkspacePath('src\\styles\\theme.css')).toBe('src/styles/theme.css');
    expect(normalizeWorkspacePath('public/')).toBe('public');
  });

  it('refuses paths that leave the workspace', () => {
    expect(reason(() => normalizeWorkspacePath('../etc/passwd'))).toBe('outside');
    expect(reason(() => normalizeWorkspacePath('src/../../x'))).toBe('outside');
    expect(reason(() => normalizeWorkspacePath('/etc/passwd'))).toBe('outside');
    expect(reason(() => normalizeWorkspacePath('a\0b'))).toBe('outside');
  });

  it('refuses the root itself and empty paths', () => {
    expect(reason(() => normalizeWorkspacePath('.'))).toBe('not-a-file');
    expect(reason(() => normalizeWorkspacePath('src/..'))).toBe('not-a-file');
    expect(reason(() => normalizeWorkspacePath(''))).toBe('not-found');
  });
});

describe('path helpers', () => {
  it('knows the ignored folders at any depth, but not look-alikes', () => {
    expect(isIgnoredWorkspacePath('node_modules')).toBe(true);
    expect(isIgnoredWorkspacePath('.astro/types.d.ts')).toBe(true);
    expect(isIgnoredWorkspacePath('packages/x/node_modules/y')).toBe(true);
    expect(isIgnoredWorkspacePath('.gitignore')).toBe(false);
    expect(isIgnoredWorkspacePath('src/node_modules.md')).toBe(false);
  });

  it('lists parent folders outermost first', () => {
    expect(parentDirs('a/b/c.txt')).toEqual(['a', 'a/b']);
    expect(parentDirs('c.txt')).toEqual([]);
  });

  it('tells inside from outside', () => {
    expect(isInside('/data/ws/1', '/data/ws/1')).toBe(true);
    expect(isInside('/data/ws/1', '/data/ws/1/src/a')).toBe(true);
    expect(isInside('/data/ws/1', '/data/ws/10')).toBe(false);
    expect(isInside('/data/ws/1', '/data/ws')).toBe(false);
    expect(isInside('/data/ws/1', '/opt/template/node_modules')).toBe(false);
  });

  it('accepts plain session ids only', () => {
    expect(assertSessionId('3f1c2a9e-1b2c-4d5e-8f90-123456789abc')).toBe(
      '3f1c2a9e-1b2c-4d5e-8f90-123456789abc',
    );
    for (const bad of ['', '..', 'a/b', '../x', '-rf', 'a..b', 'x'.repeat(200)]) {
      expect(() => assertSessionId(bad)).toThrow(/invalid session id/);
    }
  });
});

import { describe, expect, it } from 'vitest';
import { InvalidWorkspacePathError } from '../errors/invalid-workspace-path.error';
import { parseWorkspacePath } from './workspace-file-path';

describe('parseWorkspacePath', () => {
  it('accepts relative paths, as a string or as segments', () => {
    expect(parseWorkspacePath('src/pages/index.astro', { forWrite: true })).toBe('src/pages/index.astro');
    expect(parseWorkspacePath(['src', 'pages', 'index.astro'], { forWrite: true })).toBe(
      'src/pages/index.astro',
    );
    expect(parseWorkspacePath('.gitignore', { forWrite: true })).toBe('.gitignore');
    expect(parseWorkspacePath('a/..b/c..', { forWrite: true })).toBe('a/..b/c..');
  });

  it.each([
    ['', 'required'],
    ['../etc/passwd', '".."'],
    ['src/../../x', '".."'],
    [['src', '..', 'x'], '".."'],
    ['/etc/passwd', 'absolute'],
    ['C:/windows', 'absolute'],
    ['src\\pages', 'backslash'],
    ['src/\u0000x', 'control'],
    ['src/\nx', 'control'],
    ['src//x', 'empty'],
    ['src/./x', '"."'],
    ['x'.repeat(2000), 'longer'],
  ])('refuses %j', (path, fragment) => {
    expect(() => parseWorkspacePath(path, { forWrite: false })).toThrow(InvalidWorkspacePathError);
    expect(() => parseWorkspacePath(path, { forWrite: false })).toThrow(fragment);
  });

  it('refuses writes under node_modules and .git but allows reading them', () => {
    expect(() => parseWorkspacePath('node_modules/x/index.js', { forWrite: true })).toThrow('node_modules');
    expect(() => parseWorkspacePath('a/.git/config', { forWrite: true })).toThrow('.git');
    expect(parseWorkspacePath('node_modules/x/index.js', { forWrite: false })).toBe(
      'node_modules/x/index.js',
    );
  });
});

import { describe, expect, it } from 'vitest';
import { editorLanguage } from './editor-language';

describe('editorLanguage', () => {
  it("highlights the template's files by their extension", () => {
    expect(editorLanguage('src/pages/index.astro')).toBe('html');
    expect(editorLanguage('public/about.HTML')).toBe('html');
    expect(editorLanguage('src/styles/theme.css')).toBe('css');
    expect(editorLanguage('astro.config.mjs')).toBe('javascript');
    expect(editorLanguage('src/env.d.ts')).toBe('typescript');
    expect(editorLanguage('src/components/Card.tsx')).toBe('tsx');
    expect(editorLanguage('package.json')).toBe('json');
    expect(editorLanguage('README.md')).toBe('markdown');
  });

  it('shows other files as plain text', () => {
    expect(editorLanguage('public/favicon.ico')).toBeNull();
    expect(editorLanguage('Dockerfile')).toBeNull();
    expect(editorLanguage('.gitignore')).toBeNull();
    expect(editorLanguage('src/.hidden/file')).toBeNull();
  });
});

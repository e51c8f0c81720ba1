/** The syntax a file is highlighted as. */
export type EditorLanguage =
  'html' | 'css' | 'javascript' | 'typescript' | 'jsx' | 'tsx' | 'json' | 'markdown';

// `.astro` is HTML around a front matter of TypeScript; HTML's own nesting colours its
// <script> and <style> blocks.
const BY_EXTENSION: Record<string, EditorLanguage> = {
  astro: 'html',
  html: 'html',
  htm: 'html',
  svg: 'html',
  vue: 'html',
  svelte: 'html',
  css: 'css',
  pcss: 'css',
  postcss: 'css',
  js: 'javascript',
  mjs: 'javascript',
  cjs: 'javascript',
  jsx: 'jsx',
  ts: 'typescript',
  mts: 'typescript',
  cts: 'typescript',
  tsx: 'tsx',
  json: 'json',
  md: 'markdown',
  mdx: 'markdown',
  markdown: 'markdown',
};

/** The language of `path` by its extension; null for files shown as plain text. */
export function editorLanguage(path: string): EditorLanguage | null {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return null;
  return BY_EXTENSION[name.slice(dot + 1).toLowerCase()] ?? null;
}

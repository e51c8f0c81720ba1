/** Files Vite compiles as style modules (PostCSS, Tailwind, preprocessors). */
const STYLE_FILE = /\.(css|scss|sass|less|styl|stylus|pcss|postcss)$/;
/** Files Astro serves as pages when they sit under src/pages. */
const PAGE_FILE = /^src\/pages\/(.+)\.(astro|md|mdx|markdown|html)$/;

/** What the dev server is asked for to judge a change: a page route or a style module's URL. */
export interface VerdictTarget {
  kind: 'page' | 'module';
  /** Path and query of the request, e.g. `/about` or `/src/styles/theme.css`. */
  url: string;
  /** The workspace file it compiles (the page file, the style file). */
  file: string;
}

/**
 * The route Astro serves a page file at (`src/pages/blog/index.astro` → `/blog`), or null when the
 * file is not a page or cannot be requested as is: a dynamic route (`[slug].astro` needs its
 * parameters) or a file Astro leaves out of routing (a segment starting with `_`).
 */
export function pageRoute(path: string): string | null {
  const match = PAGE_FILE.exec(path);
  if (!match) return null;
  const segments = match[1].split('/');
  if (segments.some((segment) => segment.startsWith('_') || segment.includes('['))) return null;
  if (segments.at(-1) === 'index') segments.pop();
  return `/${segments.map(encodeURIComponent).join('/')}`;
}

function isPageFile(path: string): boolean {
  return PAGE_FILE.test(path);
}

function isStaticAsset(path: string): boolean {
  return path.startsWith('public/');
}

/** Whether a change can affect any page (and {@link verdictTargets} needs the workspace's pages). */
export function affectsEveryPage(change: { writes: string[]; deletes: string[] }): boolean {
  return (
    change.writes.some((path) => !isStaticAsset(path) && !STYLE_FILE.test(path) && !isPageFile(path)) ||
    change.deletes.some((path) => !isStaticAsset(path) && !isPageFile(path))
  );
}

/**
 * What the dev server must compile to judge a change. The dev server does not expose its module
 * graph, so the rules stay coarse and cheap for landing pages (a handful of pages):
 * - a written page: its own route (nothing imports a page);
 * - a written style file: its module URL, which makes Vite run it through PostCSS and Tailwind
 *   (a style file is compiled on its own: whether a page imports it or not, that is where a
 *   syntax error shows, in ~20 ms instead of a page render);
 * - anything else written (a component, a layout, a script, data) and any deleted file except a
 *   page: every page, since any of them may import it; index first, at most `maxPages`;
 * - `public/` holds static files that are served, never compiled: nothing.
 * A dynamic or private page is not requested (its route needs parameters, or it has none).
 */
export function verdictTargets(
  change: { writes: string[]; deletes: string[] },
  pageFiles: Iterable<string>,
  maxPages: number,
): VerdictTarget[] {
  const targets = new Map<string, VerdictTarget>();
  for (const path of change.writes) {
    if (STYLE_FILE.test(path) && !isStaticAsset(path)) {
      const url = `/${path.split('/').map(encodeURIComponent).join('/')}`;
      targets.set(url, { kind: 'module', url, file: path });
    } else if (isPageFile(path)) {
      const url = pageRoute(path);
      if (url) targets.set(url, { kind: 'page', url, file: path });
    }
  }
  if (affectsEveryPage(change)) {
    const deleted = new Set(change.deletes);
    const pages = [...pageFiles]
      .filter((path) => !deleted.has(path))
      .map((file) => ({ file, url: pageRoute(file) }))
      .filter((page): page is { file: string; url: string } => page.url !== null)
      .sort((a, b) => routeOrder(a.url, b.url));
    for (const page of pages.slice(0, maxPages)) targets.set(page.url, { kind: 'page', ...page });
  }
  // Style modules first: they answer in milliseconds and name the file and line themselves.
  return [...targets.values()].sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'module' ? -1 : 1));
}

/** `/` first, then shallower routes, then alphabetically. */
function routeOrder(a: string, b: string): number {
  const depth = (url: string) => (url === '/' ? 0 : url.split('/').length);
  return depth(a) - depth(b) || (a < b ? -1 : a > b ? 1 : 0);
}

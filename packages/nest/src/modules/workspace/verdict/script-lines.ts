/**
 * The `<script>` blocks Astro processes into client modules: those without attributes other than
 * `src` (`is:inline` and other attributes leave a script as it is). Their module URLs number them
 * in order: `Card.astro?astro&type=script&index=1&lang.ts` is the second.
 */
const PROCESSED_SCRIPT = /<script(\s+src=("[^"]*"|'[^']*'))?\s*>/g;

/** The block number of a client script module URL (`index=N`), or null for any other URL. */
export function scriptIndex(url: string): number | null {
  const params = new URLSearchParams(url.split('?')[1] ?? '');
  if (!params.has('astro') || params.get('type') !== 'script' || !params.has('index')) return null;
  const index = Number(params.get('index'));
  return Number.isInteger(index) && index >= 0 ? index : null;
}

/**
 * Where line `line` (1-based) of a file's `index`-th script block is in the file itself: the dev
 * server reports a script's errors in the block's own lines. Null when the file has no such block.
 */
export function fileLineOfScript(source: string, index: number, line: number): number | null {
  const tags = [...source.matchAll(PROCESSED_SCRIPT)];
  const tag = tags[index];
  if (!tag || tag.index === undefined) return null;
  const end = tag.index + tag[0].length;
  const tagLine = source.slice(0, end).split('\n').length;
  // The block starts after its tag: on the next line when nothing follows the tag on its own.
  const restOfLine = source.slice(end).split('\n', 1)[0];
  return restOfLine.trim() === '' ? tagLine + line : tagLine + line - 1;
}

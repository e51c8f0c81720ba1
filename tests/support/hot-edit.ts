import type { Frame, Page } from 'playwright-core';

/**
 * Proves an edit arrives as a hot update: sets a marker on the page's window, makes the edit, and
 * waits until `applied` holds with the marker still there (no reload). Under load an edit can race
 * a reload the dev server itself triggers (Vite re-optimizing dependencies after a first visit);
 * then the marker is gone and the edit is made again, up to `attempts` times, each with its own
 * value. Throws when no attempt was applied without a reload.
 */
export async function expectHotEdit(
  target: Page | Frame,
  edit: { write: (attempt: number) => Promise<void> | void; applied: (attempt: number) => Promise<boolean> },
  { attempts = 3, timeoutMs = 10_000 } = {},
): Promise<number> {
  const outcomes: string[] = [];
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const marker = `kept-${attempt}`;
    await target.evaluate((value) => ((window as unknown as { __hotMarker: string }).__hotMarker = value), marker);
    await edit.write(attempt);
    const deadline = Date.now() + timeoutMs;
    let applied = false;
    while (Date.now() < deadline && !applied) {
      applied = await edit.applied(attempt).catch(() => false);
      if (!applied) await new Promise((r) => setTimeout(r, 100));
    }
    const kept = await target
      .evaluate(() => (window as unknown as { __hotMarker?: string }).__hotMarker)
      .catch(() => undefined);
    if (applied && kept === marker) {
      if (attempt > 1) console.warn(`[hot-edit] applied without reload on attempt ${attempt} (${outcomes.join('; ')})`);
      return attempt;
    }
    outcomes.push(`attempt ${attempt}: ${applied ? 'applied' : 'not applied'}, ${kept === marker ? 'no reload' : 'page reloaded'}`);
  }
  throw new Error(`no edit arrived as a hot update: ${outcomes.join('; ')}`);
}

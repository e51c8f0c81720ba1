import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { launchChromium } from '../support/browser';
import { API_URL, ROOT, WEB_URL, useBuilderApp } from '../support/builder-app';
import { previewFrame, screenshots, signUp, watchViteConnections } from '../support/builder-page';
import {
  editorContent,
  editorLine,
  openInEditor,
  readThroughApi,
  revealLine,
  saveWithKeyboard,
} from '../support/code-editor';
import { waitFor } from '../support/http';

// The builder's code editor and Console in Chromium, against the built API (docker runtime, real
// PostgreSQL) on :3000 and the built web app on :3001, the ports the web app's build expects
// (the e2e files run one after another). Ports of this file: 3000, 3001 and previews on 8350-8369.
const ARTIFACTS = join(ROOT, 'test-artifacts/e2e');
const INDEX = 'src/pages/index.astro';
const HERO = 'Build your landing page in minutes';
const FEATURES = 'const features = [';

const app = useBuilderApp({ suite: 'end-to-end code editor test', previewPorts: [8350, 8369] });

/** Waits until the preview's hero says `text` and no error overlay covers it. */
async function previewShows(page: Page, text: string): Promise<void> {
  await waitFor(
    `"${text}" in the preview`,
    async () => {
      const frame = await previewFrame(page);
      if (await frame.locator('vite-error-overlay').count()) return undefined;
      const hero = await frame.locator('#hero-title').textContent({ timeout: 2_000 });
      return hero?.includes(text) ? true : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  );
}

/** Puts the caret at the end of the editor's line holding `text`. */
async function caretAtEndOf(page: Page, text: string): Promise<void> {
  await (await revealLine(page, text)).click();
  // On a wrapped line End stops at the end of its row; pressed again there, at the line's end.
  await page.keyboard.press('End');
  await page.keyboard.press('End');
}

/** The lint marks CodeMirror draws on the line holding `text`. */
function errorMarksOn(page: Page, text: string): Locator {
  return editorLine(page, text).locator('.cm-lintRange-error');
}

describe('code editor and Console in Chromium', () => {
  it('types, saves with Ctrl-S, shows the verdict inline and clears it on a fix, keeps unsaved edits across files, and shows the dev server output', async ({
    skip,
  }) => {
    if (!app.enabled) skip();
    const { browser, close } = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
      const screenshot = screenshots(join(ARTIFACTS, 'editor'));
      const vite = watchViteConnections(page);
      await signUp(page, WEB_URL);
      await page
        .locator('[data-testid="session-status"]', { hasText: 'running' })
        .waitFor({ timeout: 180_000 });
      await previewShows(page, HERO);
      await vite.connected(1);
      const iframeSrc = await page.locator('[data-testid="preview-iframe"]').getAttribute('src');
      // Set on the builder's own window: still there at the end means the builder never reloaded.
      await page.evaluate(() => ((window as unknown as { __builderKept: boolean }).__builderKept = true));

      // The page opens first, highlighted, with line numbers.
      await openInEditor(page, INDEX, HERO);
      await expect
        .poll(() => page.locator('[data-testid="code-editor"] .cm-lineNumbers .cm-gutterElement').count())
        .toBeGreaterThan(10);
      await expect
        .poll(() => page.locator('[data-testid="code-editor"] .cm-content span[class]').count(), {
          timeout: 15_000,
        })
        .toBeGreaterThan(0);

      // Typed, unsaved: marked, and kept while another file is open.
      await caretAtEndOf(page, HERO);
      await page.keyboard.type(' today');
      const fileName = page.locator('[data-testid="editor-file-name"]');
      await expect.poll(() => fileName.getAttribute('data-dirty')).toBe('true');
      await openInEditor(page, 'src/styles/theme.css', '.feature-card');
      expect(
        await page.locator(`[data-testid="editor-file-picker"] option[value="${INDEX}"]`).textContent(),
      ).toBe(`● ${INDEX}`);
      await page.selectOption('[data-testid="editor-file-picker"]', INDEX);
      await waitFor('the unsaved edit back in the editor', () => revealLine(page, `${HERO} today`), {
        timeoutMs: 10_000,
      });
      expect(await fileName.getAttribute('data-dirty')).toBe('true');
      await screenshot(page, 'unsaved');

      // Ctrl-S: saved through the files API with its verdict, and the preview shows it.
      await editorContent(page).click();
      await saveWithKeyboard(page);
      const status = page.locator('[data-testid="editor-save-status"]');
      expect(await status.getAttribute('data-verdict')).toBe('ok');
      expect(await fileName.getAttribute('data-dirty')).toBe('false');
      expect(await readThroughApi(page, INDEX)).toContain(`${HERO} today`);
      await previewShows(page, `${HERO} today`);
      await screenshot(page, 'saved');

      // A syntax error in the front matter's 5th line, at its `;` (column 20): marked inline there.
      await caretAtEndOf(page, FEATURES);
      await page.keyboard.type('[;');
      await saveWithKeyboard(page);
      expect(await status.getAttribute('data-verdict')).toBe('errors');
      await errorMarksOn(page, 'const features = [[;').first().waitFor({ timeout: 30_000 });
      // On that line only.
      const markedLines = await editorContent(page)
        .locator('.cm-line:has(.cm-lintRange-error)')
        .allTextContents();
      expect(markedLines).toEqual(['const features = [[;']);
      const problem = page.locator('[data-testid="editor-problems"] li');
      await expect.poll(() => problem.first().getAttribute('data-line')).toBe('5');
      expect(await page.locator('[data-testid="code-editor"] .cm-lint-marker-error').count()).toBeGreaterThan(
        0,
      );
      await screenshot(page, 'inline-error');

      // Fixed and saved: the mark goes, and the preview serves the page again.
      await caretAtEndOf(page, 'const features = [[;');
      await page.keyboard.press('Backspace');
      await page.keyboard.press('Backspace');
      await saveWithKeyboard(page);
      expect(await status.getAttribute('data-verdict')).toBe('ok');
      await expect
        .poll(() => page.locator('[data-testid="code-editor"] .cm-lintRange-error').count())
        .toBe(0);
      expect(await page.locator('[data-testid="editor-problems"]').count()).toBe(0);
      await previewShows(page, `${HERO} today`);

      // A line the page prints when the dev server renders it (the save's verdict renders it).
      const marker = `console-line-${Date.now()}`;
      await caretAtEndOf(page, "import '../styles/theme.css';");
      await page.keyboard.press('Enter');
      await page.keyboard.type(`console.log('${marker}');`);
      await saveWithKeyboard(page);
      expect(await status.getAttribute('data-verdict')).toBe('ok');
      await page.click('[data-testid="side-tab-console"]');
      const output = page.getByRole('log', { name: 'Dev server output' });
      await output.getByText(marker).first().waitFor({ timeout: 30_000 });
      // Scrolled to the newest line.
      expect(
        await output.evaluate((box) => box.scrollHeight - box.scrollTop - box.clientHeight),
      ).toBeLessThanOrEqual(24);
      await screenshot(page, 'console');
      const shown = await output.locator('p[data-stream]').count();
      await page.click('[data-testid="console-clear"]');
      expect(await output.locator('p[data-stream]').count()).toBeLessThan(shown);

      // Broken from the editor, fixed from elsewhere (the API, as an AI would): the socket's
      // verdict clears the mark.
      await page.click('[data-testid="side-tab-editor"]');
      await caretAtEndOf(page, FEATURES);
      await page.keyboard.type('[;');
      await saveWithKeyboard(page);
      await errorMarksOn(page, 'const features = [[;').first().waitFor({ timeout: 30_000 });
      const broken = await readThroughApi(page, INDEX);
      const sessionId = await page.locator('section[aria-label="Code editor"]').getAttribute('data-session');
      const token = await page.evaluate(() => sessionStorage.getItem('builder.accessToken') ?? '');
      const fixed = await fetch(`${API_URL}/api/v1/workspace/${sessionId}/files/${INDEX}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ content: broken.replace('const features = [[;', FEATURES) }),
      });
      expect(fixed.status).toBe(200);
      await expect
        .poll(() => page.locator('[data-testid="code-editor"] .cm-lintRange-error').count(), {
          timeout: 30_000,
        })
        .toBe(0);
      await previewShows(page, `${HERO} today`);

      expect(await page.locator('[data-testid="preview-iframe"]').getAttribute('src')).toBe(iframeSrc);
      expect(
        await page.evaluate(() => (window as unknown as { __builderKept?: boolean }).__builderKept),
      ).toBe(true);
      await screenshot(page, 'fixed-elsewhere');
    } finally {
      await close();
    }
  });
});

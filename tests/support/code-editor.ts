import type { Locator, Page } from 'playwright-core';
import { API_URL } from './builder-app';
import { waitFor } from './http';

/** The builder's CodeMirror text box. */
export function editorContent(page: Page): Locator {
  return page.locator('[data-testid="code-editor"] .cm-content');
}

/** The editor's drawn lines whose text holds `text` (CodeMirror draws the lines near the view only). */
export function editorLine(page: Page, text: string): Locator {
  return editorContent(page).locator('.cm-line', { hasText: text });
}

/**
 * Scrolls the editor, from its top, until a line holding `text` is drawn; answers that line.
 * Throws when no line of the file holds it.
 */
export async function revealLine(page: Page, text: string): Promise<Locator> {
  const scroller = page.locator('[data-testid="code-editor"] .cm-scroller');
  await scroller.evaluate((box) => (box.scrollTop = 0));
  for (;;) {
    const line = editorLine(page, text).first();
    if (await line.count()) {
      await line.scrollIntoViewIfNeeded();
      return line;
    }
    const atEnd = await scroller.evaluate((box) => {
      const before = box.scrollTop;
      box.scrollTop += box.clientHeight;
      return box.scrollTop === before;
    });
    if (atEnd) throw new Error(`no line of the editor holds "${text}"`);
    // CodeMirror draws the lines of the new position on its next frame.
    await page.evaluate(
      () => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))),
    );
  }
}

/**
 * Opens `path` in the builder's editor and waits until it is loaded, editable and shows a line
 * holding `visible`. Answers the whole file as the files API has it, which is what the editor
 * loaded (CodeMirror draws only the lines near the view, so its text is not in the page).
 */
export async function openInEditor(page: Page, path: string, visible: string): Promise<string> {
  await page.click('[data-testid="side-tab-editor"]');
  const picker = page.locator('[data-testid="editor-file-picker"]');
  if ((await picker.inputValue()) !== path) await picker.selectOption(path);
  await page
    .locator(`[data-testid="code-editor"][data-path="${path}"][data-readonly="false"]`)
    .waitFor({ timeout: 30_000 });
  await waitFor(`"${visible}" in the editor`, () => revealLine(page, visible), { timeoutMs: 30_000 });
  return readThroughApi(page, path);
}

/** Replaces the editor's whole text with `content` and saves it with Ctrl-S; waits for "saved". */
export async function saveInEditor(page: Page, content: string): Promise<void> {
  await editorContent(page).click();
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.insertText(content);
  await saveWithKeyboard(page);
}

/** Ctrl-S in the editor; waits for the save's answer (its verdict is in `data-verdict`). */
export async function saveWithKeyboard(page: Page): Promise<void> {
  await page.keyboard.press('Control+s');
  await page.locator('[data-testid="editor-save-status"][data-state="saved"]').waitFor({ timeout: 60_000 });
}

/** The file as the editor's session has it, read with the page's own token. */
export async function readThroughApi(page: Page, path: string): Promise<string> {
  const sessionId = await page.locator('section[aria-label="Code editor"]').getAttribute('data-session');
  const token = await page.evaluate(() => sessionStorage.getItem('builder.accessToken') ?? '');
  const encoded = path.split('/').map(encodeURIComponent).join('/');
  const res = await fetch(`${API_URL}/api/v1/workspace/${sessionId}/files/${encoded}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (!res.ok) throw new Error(`reading ${path}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { content: string }).content;
}

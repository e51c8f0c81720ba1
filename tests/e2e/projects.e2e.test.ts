import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readZip } from '../../packages/nest/test/support/archives';
import { launchChromium } from '../support/browser';
import { API_URL as API, ROOT, useBuilderApp, WEB_URL as WEB } from '../support/builder-app';
import { openInEditor, revealLine, saveInEditor } from '../support/code-editor';
import { waitFor } from '../support/http';

// The builder's projects in a real browser: the built API (docker runtime, real PostgreSQL, the
// file-system object store) on :3000 and the built web app on :3001, the ports the web app's
// build expects. Sessions here take host ports 8340-8349.
const ARTIFACTS = join(ROOT, 'test-artifacts/e2e');
const PORT_RANGE_START = 8340;
const PORT_RANGE_END = 8349;
const HERO = 'Build your landing page in minutes';
const EDITED = 'Edited in the builder';
const SECOND = 'The second project';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const app = useBuilderApp({ suite: 'end-to-end projects test', previewPorts: [PORT_RANGE_START, PORT_RANGE_END] });
let downloads = '';
let shot = 0;

async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `projects-${String(++shot).padStart(2, '0')}-${name}.png`) });
}

/** An API call as the signed-in user of the page (its token is in the tab's sessionStorage). */
async function apiAs<T = any>(token: string, path: string): Promise<{ status: number; body: T }> {
  const res = await fetch(`${API}/api/v1${path}`, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** The id of the project's running session (the one the builder shows). */
async function runningSession(token: string, projectId: string): Promise<string> {
  const sessions = (
    await apiAs<Array<{ id: string; status: string; projectId: string }>>(token, '/workspace')
  ).body;
  const running = sessions.filter((s) => s.projectId === projectId && s.status === 'running');
  expect(running).toHaveLength(1);
  return running[0]!.id;
}

async function waitForSessionEnd(token: string, sessionId: string): Promise<void> {
  await waitFor(
    `session ${sessionId} to end`,
    async () =>
      (await apiAs(token, `/workspace/${sessionId}/status`)).body.status === 'stopped' ? true : undefined,
    { timeoutMs: 60_000, intervalMs: 250 },
  );
}

function pageToken(page: Page): Promise<string> {
  return page.evaluate(() => sessionStorage.getItem('builder.accessToken') ?? '');
}

/** The project the address bar names. */
function projectInUrl(page: Page): string | null {
  return new URL(page.url()).searchParams.get('project');
}

/** Waits until the address names a project: `is` that one, or any one but `not`. */
async function waitForProjectInUrl(page: Page, want: { is?: string; not?: string } = {}): Promise<string> {
  return waitFor(
    `the address to name ${want.is ? `project ${want.is}` : want.not ? `a project other than ${want.not}` : 'a project'}`,
    async () => {
      const id = projectInUrl(page);
      return id && UUID.test(id) && (!want.is || id === want.is) && id !== want.not ? id : undefined;
    },
    { timeoutMs: 60_000 },
  );
}

/**
 * Waits until the preview iframe shows a running session of `projectId` (its address is that
 * session's) and its hero reads `text`. The iframe is found anew each time: a new session
 * replaces it.
 */
async function expectPreview(page: Page, token: string, projectId: string, text: string): Promise<void> {
  await waitFor(
    `"${text}" in the preview of project ${projectId}`,
    async () => {
      const sessions = (
        await apiAs<Array<{ status: string; projectId: string; previewUrl: string | null }>>(
          token,
          '/workspace',
        )
      ).body;
      const urls = sessions
        .filter((s) => s.projectId === projectId && s.status === 'running')
        .map((s) => s.previewUrl);
      const iframe = await page.locator('[data-testid="preview-iframe"]').elementHandle({ timeout: 2_000 });
      if (!iframe || !urls.includes(await iframe.getAttribute('src'))) return undefined;
      const hero = await (
        await iframe.contentFrame()
      )
        ?.locator('#hero-title')
        .textContent({ timeout: 2_000 });
      return hero?.includes(text) ? true : undefined;
    },
    { timeoutMs: 180_000, intervalMs: 250 },
  );
}

async function openHistory(page: Page): Promise<void> {
  await page.click('[data-testid="side-tab-history"]');
  await page.locator('[data-testid="history-panel"]').waitFor({ timeout: 10_000 });
}

/** The version numbers the History panel lists, top to bottom. */
async function listedVersions(page: Page): Promise<number[]> {
  const rows = page.locator('[data-testid="history-version"]');
  return await rows.evaluateAll((els) => els.map((el) => Number(el.getAttribute('data-version-number'))));
}

async function openSwitcher(page: Page): Promise<void> {
  if (!(await page.locator('[data-testid="project-menu"]').isVisible()))
    await page.click('[data-testid="project-switcher"]');
  await page.locator('[data-testid="project-menu"]').waitFor({ timeout: 10_000 });
}

function projectRow(page: Page, projectId: string) {
  return page.locator(`[data-testid="project-item"][data-project-id="${projectId}"]`);
}

/**
 * Counts the "[vite] connected" lines of the preview pages (Vite's client logs one once its HMR
 * socket is open): an edit saved before the shown page's socket is open would be missed by it, by
 * a test faster than any person. `count()` before a page loads, `connected(count + 1)` after.
 */
function watchViteConnections(page: Page): {
  count: () => number;
  connected: (atLeast: number) => Promise<void>;
} {
  let connections = 0;
  page.on('console', (message) => {
    if (message.text().includes('[vite] connected')) connections++;
  });
  return {
    count: () => connections,
    connected: async (atLeast) => {
      await waitFor(
        `the preview's HMR socket (connection ${atLeast})`,
        async () => (connections >= atLeast ? true : undefined),
        {
          timeoutMs: 90_000,
        },
      );
    },
  };
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

// The app's hooks come first (useBuilderApp): these run after its beforeAll and before its afterAll.
beforeAll(() => {
  mkdirSync(ARTIFACTS, { recursive: true });
  downloads = mkdtempSync(join(tmpdir(), 'builder-e2e-downloads-'));
});

afterAll(() => {
  if (downloads) rmSync(downloads, { recursive: true, force: true });
});

describe('projects in the builder, end to end in Chromium', () => {
  it(
    'keeps an edit across leaving, names the project in the URL, lists and restores versions, downloads, switches, renames and deletes',
    async ({ skip }) => {
      if (!app.enabled) skip();
      const { browser, close } = await launchChromium();
      try {
        const context = await browser.newContext({
          viewport: { width: 1440, height: 960 },
          acceptDownloads: true,
        });
        const page = await context.newPage();
        const vite = watchViteConnections(page);

        // Sign up: the builder makes the user's first project and names it in the address.
        await page.goto(`${WEB}/login`);
        await page.fill('[data-testid="register-email"]', `e2e-projects-${Date.now()}@example.test`);
        await page.fill('[data-testid="register-password"]', 'correct horse battery staple');
        await page.click('[data-testid="register-submit"]');
        const first = await waitForProjectInUrl(page);
        expect(new URL(page.url()).pathname).toBe('/builder');
        const token = await pageToken(page);
        await expectPreview(page, token, first, HERO);
        await screenshot(page, 'first-project');

        // An edit through the editor, saved: the dev server reloads the preview by itself.
        await vite.connected(1);
        const page1 = await openInEditor(page, 'src/pages/index.astro', HERO);
        await saveInEditor(page, page1.replace(HERO, EDITED));
        await expectPreview(page, token, first, EDITED);
        await screenshot(page, 'edited');

        // History: the edit on top of the template, newest first, with what changed.
        await openHistory(page);
        await expect.poll(() => listedVersions(page), { timeout: 30_000 }).toEqual([2, 1]);
        const edit = page.locator('[data-testid="history-version"][data-version-number="2"]');
        await expect
          .poll(() => edit.locator('[data-testid="history-version-changes"]').textContent())
          .toContain('1 file changed');
        expect(await edit.textContent()).toContain('src/pages/index.astro');
        // A file as it was: version 1 still holds the template's text.
        const template = page.locator('[data-testid="history-version"][data-version-number="1"]');
        await template.locator('[data-testid="history-view"]').click();
        await template.locator('[data-testid="version-file-picker"]').selectOption('src/pages/index.astro');
        await expect
          .poll(() => template.locator('[data-testid="version-file-content"]').textContent(), {
            timeout: 30_000,
          })
          .toContain(HERO);
        await screenshot(page, 'history');

        // Leaving /builder ends the session; coming back opens the same project, edit included.
        const leftSession = await runningSession(token, first);
        await page.goto('about:blank');
        await waitForSessionEnd(token, leftSession);
        await page.goto(`${WEB}/builder`);
        await waitForProjectInUrl(page, { is: first });
        await expectPreview(page, token, first, EDITED);
        await screenshot(page, 'came-back');

        // A reload of the address returns to the project (in a new session; the old one ends).
        const beforeReload = vite.count();
        await page.reload();
        expect(projectInUrl(page)).toBe(first);
        await expectPreview(page, token, first, EDITED);
        await waitFor(
          'one running session, of the first project',
          async () => {
            const sessions = (await apiAs<Array<{ status: string; projectId: string }>>(token, '/workspace'))
              .body;
            const running = sessions.filter((s) => s.status === 'running').map((s) => s.projectId);
            return running.length === 1 && running[0] === first ? true : undefined;
          },
          { timeoutMs: 60_000, intervalMs: 250 },
        );

        // Restore version 1: the open preview shows the template's text again with no reload of the
        // iframe by the app (the same element stays, its address unchanged): the dev server did it.
        await vite.connected(beforeReload + 1);
        const iframe = await page.locator('[data-testid="preview-iframe"]').elementHandle();
        const iframeSrc = await iframe!.getAttribute('src');
        await openHistory(page);
        await page
          .locator('[data-testid="history-version"][data-version-number="1"] [data-testid="history-restore"]')
          .click();
        await waitFor(
          'the restored text in the open preview',
          async () => {
            const frame = await iframe!.contentFrame();
            const hero = await frame?.locator('#hero-title').textContent({ timeout: 2_000 });
            return hero?.includes(HERO) ? true : undefined;
          },
          { timeoutMs: 60_000, intervalMs: 100 },
        );
        expect(await iframe!.evaluate((el) => el.isConnected)).toBe(true);
        expect(await iframe!.getAttribute('src')).toBe(iframeSrc);
        await expect.poll(() => listedVersions(page), { timeout: 30_000 }).toEqual([3, 2, 1]);
        expect(
          await page.locator('[data-testid="history-version"][data-version-number="3"]').textContent(),
        ).toContain('Restore of v1');
        // The editor reads its open file again, so a later save cannot undo the restore.
        await page.click('[data-testid="side-tab-editor"]');
        await waitFor('the restored text in the editor', () => revealLine(page, HERO), { timeoutMs: 30_000 });
        await screenshot(page, 'restored');

        // Download: a zip whose files are the current version's, byte for byte.
        const current = (await apiAs(token, `/projects/${first}`)).body;
        expect(current.currentVersion.number).toBe(3);
        const expected = (
          await apiAs(token, `/projects/${first}/versions/${current.currentVersion.id}/files`)
        ).body.files as Array<{
          path: string;
          sha256: string;
        }>;
        const [download] = await Promise.all([
          page.waitForEvent('download'),
          page.click('[data-testid="project-download"]'),
        ]);
        expect(download.suggestedFilename()).toMatch(/-v3\.zip$/);
        const saved = join(downloads, download.suggestedFilename());
        await download.saveAs(saved);
        const entries = await readZip(readFileSync(saved));
        const files = [...entries].filter(([name]) => !name.endsWith('/'));
        const root = download.suggestedFilename().replace(/\.zip$/, '');
        expect(files.map(([name]) => name).sort()).toEqual(expected.map((f) => `${root}/${f.path}`).sort());
        for (const [name, content] of files) {
          expect(sha256(content), name).toBe(expected.find((f) => `${root}/${f.path}` === name)!.sha256);
        }
        expect(entries.get(`${root}/src/pages/index.astro`)!.toString()).toContain(HERO);

        // The switcher: a new project opens in its own session and its own address.
        await openSwitcher(page);
        await screenshot(page, 'switcher');
        const beforeSecond = vite.count();
        await page.click('[data-testid="project-new"]');
        const second = await waitForProjectInUrl(page, { not: first });
        await expectPreview(page, token, second, HERO);
        await vite.connected(beforeSecond + 1);
        const page2 = await openInEditor(page, 'src/pages/index.astro', HERO);
        await saveInEditor(page, page2.replace(HERO, SECOND));
        await expectPreview(page, token, second, SECOND);
        await screenshot(page, 'second-project');

        // Back to the first project: its own content; the second project's session has ended.
        const secondSession = await runningSession(token, second);
        await openSwitcher(page);
        await projectRow(page, first).locator('[data-testid="project-open"]').click();
        await waitForProjectInUrl(page, { is: first });
        await expectPreview(page, token, first, HERO);
        await waitForSessionEnd(token, secondSession);
        await openHistory(page);
        await expect.poll(() => listedVersions(page), { timeout: 30_000 }).toEqual([3, 2, 1]);

        // Rename.
        await openSwitcher(page);
        await projectRow(page, first).locator('[data-testid="project-rename"]').click();
        await page.fill('[data-testid="project-rename-input"]', 'Spring sale');
        await page.click('[data-testid="project-rename-save"]');
        await page
          .locator('[data-testid="project-name"]', { hasText: 'Spring sale' })
          .waitFor({ timeout: 30_000 });
        expect((await apiAs(token, `/projects/${first}`)).body.name).toBe('Spring sale');
        await screenshot(page, 'renamed');

        // Delete asks first; Cancel keeps the project.
        await openSwitcher(page);
        await projectRow(page, second).locator('[data-testid="project-delete"]').click();
        const confirm = projectRow(page, second).locator('[data-testid="project-delete-confirm"]');
        await confirm.waitFor({ timeout: 10_000 });
        await screenshot(page, 'delete-confirmation');
        await confirm.locator('[data-testid="project-delete-cancel"]').click();
        await confirm.waitFor({ state: 'detached', timeout: 10_000 });
        expect((await apiAs(token, `/projects/${second}`)).status).toBe(200);
        // Confirmed, it goes (the open project stays).
        await projectRow(page, second).locator('[data-testid="project-delete"]').click();
        await projectRow(page, second).locator('[data-testid="project-delete-confirm-button"]').click();
        await projectRow(page, second).waitFor({ state: 'detached', timeout: 30_000 });
        expect((await apiAs(token, `/projects/${second}`)).status).toBe(404);
        expect(projectInUrl(page)).toBe(first);

        // Deleting the open project ends its session and opens a new one in its place.
        await projectRow(page, first).locator('[data-testid="project-delete"]').click();
        await projectRow(page, first).locator('[data-testid="project-delete-confirm-button"]').click();
        const third = await waitForProjectInUrl(page, { not: first });
        await expectPreview(page, token, third, HERO);
        expect((await apiAs(token, `/projects/${first}`)).status).toBe(404);
        expect((await apiAs<Array<{ id: string }>>(token, '/projects')).body.map((p) => p.id)).toEqual([
          third,
        ]);
        await screenshot(page, 'deleted-open-project');

        // An unknown project, a malformed id, or another user's project: a message and a way back.
        const other = await (
          await fetch(`${API}/api/v1/auth/register`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              email: `e2e-other-${Date.now()}@example.test`,
              password: 'correct horse battery staple',
            }),
          })
        ).json();
        const foreign = await (
          await fetch(`${API}/api/v1/projects`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${other.accessToken}` },
            body: JSON.stringify({ name: 'Not yours' }),
          })
        ).json();
        for (const address of [
          `${WEB}/builder?project=00000000-0000-4000-8000-000000000000`,
          `${WEB}/builder/not-a-project`,
          `${WEB}/builder?project=${foreign.id}`,
        ]) {
          await page.goto(address);
          await page.locator('[data-testid="project-missing"]').waitFor({ timeout: 30_000 });
          expect(await page.locator('[data-testid="project-missing"]').textContent()).toContain(
            'does not exist',
          );
          expect(await page.locator('[data-testid="preview-iframe"]').count()).toBe(0);
        }
        await screenshot(page, 'project-missing');
        await page.click('[data-testid="project-missing-open"]');
        await waitForProjectInUrl(page, { is: third });
        await expectPreview(page, token, third, HERO);
        expect((await apiAs(other.accessToken, `/projects/${foreign.id}`)).body.name).toBe('Not yours');
      } finally {
        await close();
      }
    },
    30 * 60_000,
  );
});

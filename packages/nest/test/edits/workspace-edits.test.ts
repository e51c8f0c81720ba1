import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../../../tests/support/browser';
import { docker, requireDocker } from '../support/docker';
import { useDockerApp } from '../support/docker-app';
import { previewGet } from '../support/preview-host';
import { type TestUser } from '../support/test-app';

// Ports of this file: 8810-8819.
const PORT_RANGE = { PORT_RANGE_START: '8810', PORT_RANGE_END: '8819' };
const MAX_EDIT_ENTRIES = 5;
const INDEX = 'src/pages/index.astro';
const LAYOUT = 'src/layouts/Layout.astro';
const CSS = 'src/styles/theme.css';
const HERO = 'Build your landing page in minutes';

const dockerReady = requireDocker('workspace-edits');

/** Counts the page's loads in sessionStorage (it survives the reloads it counts). */
const LOAD_COUNTER = `(() => {
  if (location.protocol !== 'http:') return;
  const loads = Number(sessionStorage.getItem('loads') ?? '0') + 1;
  sessionStorage.setItem('loads', String(loads));
})();`;

describe.skipIf(!dockerReady)('edit batches, deletes and moves (Docker, PostgreSQL, Chromium)', () => {
  const t = useDockerApp({ ...PORT_RANGE, MAX_EDIT_ENTRIES: String(MAX_EDIT_ENTRIES) });
  let browser: Browser | undefined;
  let user: TestUser & { session: any };
  let id: string;

  beforeAll(async () => {
    browser = (await launchChromium()).browser;
    user = await t.runningSession('edits');
    id = user.session.id;
  });
  afterAll(async () => {
    await browser?.close().catch(() => undefined);
  });

  const call = (method: string, path: string, body?: unknown) =>
    t.api.request(method, `/workspace/${id}${path}`, { token: user.token, body });

  async function read(path: string): Promise<string | null> {
    const file = await call('GET', `/files/${path}`);
    if (file.status === 404) return null;
    expect(file.status, file.text).toBe(200);
    return file.body.content;
  }

  async function versions(): Promise<Array<{ number: number; changedPaths: string[]; kind: string }>> {
    const list = await t.api.request('GET', `/projects/${user.session.projectId}/versions`, {
      token: user.token,
    });
    expect(list.status).toBe(200);
    return list.body;
  }

  it('a batch with one bad entry, or a bad batch, is refused whole: files and versions unchanged', async () => {
    const before = { index: await read(INDEX), css: await read(CSS), versions: await versions() };
    const refusals: Array<[unknown, number, RegExp]> = [
      [
        {
          writes: [
            { path: INDEX, content: 'first' },
            { path: '../outside.astro', content: 'second' },
            { path: CSS, content: 'third' },
          ],
        },
        400,
        /writes\[1\]\.path: "\.\." segments/,
      ],
      [
        {
          writes: [
            { path: INDEX, content: 'a' },
            { path: 'node_modules/x.js', content: 'b' },
          ],
        },
        400,
        /node_modules/,
      ],
      [
        {
          writes: [
            { path: INDEX, content: 'a' },
            { path: INDEX, content: 'b' },
          ],
        },
        400,
        /written twice/,
      ],
      [{ writes: [{ path: INDEX, content: 'a' }], deletes: [INDEX] }, 400, /both written and deleted/],
      [{ writes: [{ path: INDEX, content: 'a' }], deletes: [CSS, CSS] }, 400, /deleted twice/],
      [{}, 400, /at least one write or delete/],
      [{ writes: [], deletes: [] }, 400, /at least one write or delete/],
      [
        {
          writes: Array.from({ length: MAX_EDIT_ENTRIES + 1 }, (_, n) => ({
            path: `src/n${n}.txt`,
            content: 'x',
          })),
        },
        400,
        /at most 5 writes and deletes \(MAX_EDIT_ENTRIES\); this one has 6/,
      ],
      [
        {
          writes: [
            { path: INDEX, content: 'a' },
            { path: 'src/big.txt', content: 'x'.repeat(1024 * 1024 + 1) },
          ],
        },
        400,
        /MAX_FILE_BYTES/,
      ],
      [
        { writes: [{ path: INDEX, content: 'a' }], deletes: ['src/components/Nope.astro'] },
        404,
        /does not exist/,
      ],
      [
        {
          writes: [
            { path: INDEX, content: 'a' },
            { path: 'src/pages', content: 'b' },
          ],
        },
        400,
        /is a folder/,
      ],
      [
        {
          writes: [
            { path: INDEX, content: 'a' },
            { path: `${CSS}/inside.css`, content: 'b' },
          ],
        },
        400,
        /is a file, not a folder/,
      ],
      [{ writes: [{ path: INDEX, content: 'a' }], deletes: ['src/pages'] }, 400, /is a folder/],
      [{ writes: 'all of them' }, 400, /writes must be an array/],
      [{ writes: [{ path: INDEX }] }, 400, /content/],
      [{ writes: [{ path: INDEX, content: 'a', mode: 0o777 }] }, 400, /should not exist/],
      [{ writes: [{ path: INDEX, content: 'a' }], verify: 'yes' }, 400, /verify must be true or false/],
    ];
    for (const [body, status, message] of refusals) {
      const response = await call('POST', '/edits', body);
      expect(response.status, `${JSON.stringify(body).slice(0, 200)} → ${response.text}`).toBe(status);
      expect(response.body.message).toMatch(message);
    }
    expect(await read(INDEX)).toBe(before.index);
    expect(await read(CSS)).toBe(before.css);
    expect(await read('src/n0.txt')).toBeNull();
    expect(await versions()).toEqual(before.versions);
  });

  it('a batch of three files changes all three as ONE version, and the open page reloads once (Chromium)', async () => {
    const originals = { index: (await read(INDEX))!, layout: (await read(LAYOUT))!, css: (await read(CSS))! };
    const before = await versions();
    const context = await browser!.newContext();
    await context.addInitScript(LOAD_COUNTER);
    const page = await context.newPage();
    try {
      await page.goto(user.session.previewUrl);
      await page.waitForFunction(`document.body.innerText.includes(${JSON.stringify(HERO)})`, undefined, {
        timeout: 30_000,
      });
      // The Vite client connects its HMR socket after the page loaded.
      await page.waitForFunction(`document.querySelector('script[src*="@vite/client"]') !== null`);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const loadsBefore = Number(await page.evaluate(`sessionStorage.getItem('loads')`));
      expect(loadsBefore).toBe(1);

      const batch = await call('POST', '/edits', {
        writes: [
          { path: INDEX, content: originals.index.replace(HERO, 'Three files, one change') },
          {
            path: LAYOUT,
            content: originals.layout.replace(
              '<slot />',
              '<slot />\n    <p id="layout-note">Layout changed too</p>',
            ),
          },
          { path: CSS, content: `${originals.css}\n#layout-note { color: rgb(1, 2, 3); }\n` },
        ],
        verify: true,
      });
      expect(batch.status, batch.text).toBe(200);
      expect(batch.body).toMatchObject({
        written: [
          { path: INDEX, size: expect.any(Number) },
          { path: LAYOUT, size: expect.any(Number) },
          { path: CSS, size: expect.any(Number) },
        ],
        deleted: [],
        version: { number: before[0].number + 1 },
        ok: true,
        errors: [],
      });

      // The reloaded page shows all three.
      await page.waitForFunction(
        `document.body.innerText.includes('Three files, one change') && document.getElementById('layout-note') !== null`,
        undefined,
        { timeout: 30_000 },
      );
      expect(await page.evaluate(`getComputedStyle(document.getElementById('layout-note')).color`)).toBe(
        'rgb(1, 2, 3)',
      );
      // A second reload would come within a moment of the first: give it time to show.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      expect(Number(await page.evaluate(`sessionStorage.getItem('loads')`))).toBe(loadsBefore + 1);
    } finally {
      await context.close();
    }

    const after = await versions();
    expect(after.length).toBe(before.length + 1);
    expect(after[0]).toMatchObject({
      number: before[0].number + 1,
      kind: 'edit',
      changedPaths: [CSS, LAYOUT, INDEX].sort(),
    });
    expect(await read(LAYOUT)).toContain('Layout changed too');
  });

  it('a batch can add a component, use it and delete another file in one version', async () => {
    await call('PUT', '/files/src/components/Old.astro', { content: '<p>old</p>\n' });
    const before = await versions();
    const index = (await read(INDEX))!;
    const batch = await call('POST', '/edits', {
      writes: [
        { path: 'src/components/Banner.astro', content: '<p id="banner">Banner from a batch</p>\n' },
        {
          path: INDEX,
          content: index
            .replace(
              "import '../styles/theme.css';",
              "import '../styles/theme.css';\nimport Banner from '../components/Banner.astro';",
            )
            .replace('<main>', '<main>\n    <Banner />'),
        },
      ],
      deletes: ['src/components/Old.astro'],
      verify: true,
    });
    expect(batch.status, batch.text).toBe(200);
    expect(batch.body).toMatchObject({
      ok: true,
      deleted: ['src/components/Old.astro'],
      version: { number: before[0].number + 1 },
    });
    expect((await versions())[0].changedPaths).toEqual([
      'src/components/Banner.astro',
      'src/components/Old.astro',
      INDEX,
    ]);
    expect(await read('src/components/Old.astro')).toBeNull();
    expect((await previewGet(user.session.previewUrl)).text).toContain('Banner from a batch');
  });

  it('DELETE of a file: one version without it; refused for a missing file, a folder and paths out', async () => {
    await call('PUT', '/files/src/components/Gone.astro', { content: '<p>gone</p>\n' });
    const before = await versions();
    const removed = await call('DELETE', '/files/src/components/Gone.astro?verify=true');
    expect(removed.status, removed.text).toBe(200);
    expect(removed.body).toMatchObject({
      path: 'src/components/Gone.astro',
      version: { number: before[0].number + 1 },
      ok: true,
    });
    expect(await read('src/components/Gone.astro')).toBeNull();
    expect((await versions())[0]).toMatchObject({ changedPaths: ['src/components/Gone.astro'] });

    const refusals: Array<[string, number, RegExp]> = [
      ['/files/src/components/Gone.astro', 404, /does not exist/],
      ['/files/src/pages', 400, /is a folder/],
      ['/files/node_modules/astro/package.json', 400, /node_modules/],
      ['/files/%2Fetc%2Fpasswd', 400, /invalid workspace path/],
    ];
    for (const [path, status, message] of refusals) {
      const response = await call('DELETE', path);
      expect(response.status, `${path} → ${response.text}`).toBe(status);
      expect(response.body.message).toMatch(message);
    }
    // A link inside the workspace that points out of it is no file of the workspace.
    await exec(['ln', '-s', '/etc/hostname', 'src/link-out.txt']);
    const link = await call('DELETE', '/files/src/link-out.txt');
    expect(link.status).toBe(404);
    expect((await exec(['cat', '/etc/hostname'])).length).toBeGreaterThan(0);
    expect((await versions()).length).toBe(before.length + 1);
  });

  it('a move writes the file at its new path and deletes the old one as one version', async () => {
    const content = '<p id="card">A card</p>\n';
    await call('PUT', '/files/src/components/Card.astro', { content });
    const before = await versions();
    const moved = await call('POST', '/files/move', {
      from: 'src/components/Card.astro',
      to: 'src/components/cards/FeatureCard.astro',
      verify: true,
    });
    expect(moved.status, moved.text).toBe(200);
    expect(moved.body).toMatchObject({
      from: 'src/components/Card.astro',
      to: 'src/components/cards/FeatureCard.astro',
      size: Buffer.byteLength(content),
      version: { number: before[0].number + 1 },
      ok: true,
    });
    expect(await read('src/components/Card.astro')).toBeNull();
    expect(await read('src/components/cards/FeatureCard.astro')).toBe(content);
    expect((await versions())[0].changedPaths).toEqual([
      'src/components/Card.astro',
      'src/components/cards/FeatureCard.astro',
    ]);

    await exec(['ln', '-s', '/etc/hostname', 'src/link-out.astro']);
    const refusals: Array<[unknown, number, RegExp]> = [
      [{ from: 'src/components/cards/FeatureCard.astro', to: INDEX }, 409, /already exists/],
      [{ from: INDEX, to: INDEX }, 400, /the same path/],
      [{ from: 'src/components/Nope.astro', to: 'src/components/Yes.astro' }, 404, /does not exist/],
      [{ from: 'src/pages', to: 'src/routes' }, 400, /is a folder/],
      [{ from: INDEX, to: '../index.astro' }, 400, /invalid workspace path: to:/],
      [{ from: INDEX, to: 'node_modules/index.astro' }, 400, /node_modules/],
      [{ from: 'src/link-out.astro', to: 'src/stolen.txt' }, 404, /does not exist/],
      [{ from: INDEX }, 400, /to/],
    ];
    for (const [body, status, message] of refusals) {
      const response = await call('POST', '/files/move', body);
      expect(response.status, `${JSON.stringify(body)} → ${response.text}`).toBe(status);
      expect(response.body.message).toMatch(message);
    }
    expect(await read('src/stolen.txt')).toBeNull();
    expect((await versions()).length).toBe(before.length + 1);
  });

  /** Runs a command in the session's container as the workspace's user; answers its output. */
  async function exec(command: string[]): Promise<string> {
    const [row] = await t.db.query<{ container_id: string }>(
      'SELECT container_id FROM workspace_sessions WHERE id = $1',
      [id],
    );
    const run = await docker.getContainer(row.container_id).exec({
      Cmd: command,
      User: '1000:1000',
      WorkingDir: '/app',
      AttachStdout: true,
      AttachStderr: true,
    });
    const stream = await run.start({});
    let output = '';
    for await (const chunk of stream) output += (chunk as Buffer).toString('utf8');
    return output;
  }
});

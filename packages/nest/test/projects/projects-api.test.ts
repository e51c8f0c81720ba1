import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../../../tests/support/browser';
import { readTarGz, readZip } from '../support/archives';
import { docker, requireDocker } from '../support/docker';
import { useDockerApp } from '../support/docker-app';
import { eventually, fetchPreview, TEST_OBJECT_STORE_DIR, type TestUser } from '../support/test-app';

// Ports of this file: 8760-8769.
// Direct preview URLs: Node's fetch and the tests read the page on its published port.
const PORT_RANGE = { PORT_RANGE_START: '8760', PORT_RANGE_END: '8769', PREVIEW_MODE: 'direct' };
const INDEX = 'src/pages/index.astro';
const TEMPLATE_TEXT = 'Build your landing page in minutes';

const dockerReady = requireDocker('projects-api');

/** Every blob in the file-system store of this file's apps. */
function storedBlobs(): string[] {
  const root = join(TEST_OBJECT_STORE_DIR, 'blobs/sha256');
  const found: string[] = [];
  for (const dir of readdirSync(root, { withFileTypes: true })) {
    if (dir.isDirectory()) for (const file of readdirSync(join(root, dir.name))) found.push(file);
  }
  return found.sort();
}

describe.skipIf(!dockerReady)('projects and versions (Docker, PostgreSQL, file-system store)', () => {
  const t = useDockerApp({ ...PORT_RANGE, MAX_SESSIONS_PER_USER: '3', VERSION_GROUP_WINDOW_MS: '3000' });
  let browser: Browser | undefined;

  beforeAll(async () => {
    browser = (await launchChromium()).browser;
  });
  afterAll(async () => {
    await browser?.close().catch(() => undefined);
  });

  async function createSession(user: TestUser, body: Record<string, unknown> = {}) {
    const created = await t.api.request('POST', '/workspace/create', { token: user.token, body });
    expect(created.status, created.text).toBe(201);
    t.sessionIds.add(created.body.id);
    const session = await t.api.waitForSettled(user.token, created.body.id);
    expect(session.status, session.errorMessage).toBe('running');
    return session;
  }

  async function write(user: TestUser, sessionId: string, path: string, content: string) {
    const put = await t.api.request('PUT', `/workspace/${sessionId}/files/${path}`, {
      token: user.token,
      body: { content },
    });
    expect(put.status, put.text).toBe(200);
    return put.body;
  }

  async function readIndex(user: TestUser, sessionId: string): Promise<string> {
    const file = await t.api.request('GET', `/workspace/${sessionId}/files/${INDEX}`, { token: user.token });
    expect(file.status).toBe(200);
    return file.body.content;
  }

  it('a session without a project makes one: version 1 is the template, each edit a durable version', async () => {
    const user = await t.api.newUser('proj');
    const session = await createSession(user);
    expect(session.projectId).toEqual(expect.any(String));
    const projectId = session.projectId;

    const list = await t.api.request('GET', '/projects', { token: user.token });
    expect(list.status).toBe(200);
    expect(list.body).toEqual([
      expect.objectContaining({ id: projectId, name: 'Landing page 1', templateName: 'baseline-landing' }),
    ]);
    const v1 = list.body[0].currentVersion;
    expect(v1).toMatchObject({ number: 1, kind: 'template', authorSessionId: null });
    expect(v1.changedPaths).toContain(INDEX);

    const original = await readIndex(user, session.id);
    const blobsBefore = storedBlobs();
    const edited = original.replace(TEMPLATE_TEXT, 'Version two headline');
    const put = await write(user, session.id, INDEX, edited);
    expect(put.version).toEqual({ id: expect.any(String), number: 2 });
    // Dedup: one changed file stores exactly one new blob.
    const blobsAfter = storedBlobs();
    expect(blobsAfter.length).toBe(blobsBefore.length + 1);

    const versions = await t.api.request('GET', `/projects/${projectId}/versions`, { token: user.token });
    expect(versions.status).toBe(200);
    expect(versions.body.map((v: { number: number }) => v.number)).toEqual([2, 1]);
    expect(versions.body[0]).toMatchObject({
      kind: 'edit',
      authorSessionId: session.id,
      changedPaths: [INDEX],
      filesChanged: 1,
    });
    expect(versions.body[0].fileCount).toBe(v1.fileCount);

    // The same content again is no new version; a quick second write of the same file is grouped
    // into version 2 (VERSION_GROUP_WINDOW_MS); another file is a new version.
    expect((await write(user, session.id, INDEX, edited)).version.number).toBe(2);
    const grouped = edited.replace('Version two headline', 'Version two, grouped');
    expect((await write(user, session.id, INDEX, grouped)).version.number).toBe(2);
    expect(
      (await write(user, session.id, 'src/styles/extra.css', '.x { color: red; }\n')).version.number,
    ).toBe(3);

    const files = await t.api.request('GET', `/projects/${projectId}/versions/${put.version.id}/files`, {
      token: user.token,
    });
    expect(files.status).toBe(200);
    expect(files.body.number).toBe(2);
    expect(files.body.files).toContainEqual(
      expect.objectContaining({ path: INDEX, size: Buffer.byteLength(grouped) }),
    );
    expect(files.body.files.map((f: { path: string }) => f.path)).not.toContain('src/styles/extra.css');
    const asItWas = await t.api.request('GET', `/projects/${projectId}/versions/${v1.id}/files/${INDEX}`, {
      token: user.token,
    });
    expect(asItWas.status).toBe(200);
    expect(asItWas.body).toMatchObject({ path: INDEX, encoding: 'utf8', content: original });
  });

  it('an edit outlives its session: a new session of the project serves it', async () => {
    const user = await t.api.newUser('outlive');
    const first = await createSession(user);
    const marker = `Kept after the session ${Date.now()}`;
    await write(user, first.id, INDEX, (await readIndex(user, first.id)).replace(TEMPLATE_TEXT, marker));
    await write(user, first.id, 'src/pages/about.astro', '<html><body><h1>About us</h1></body></html>\n');
    expect((await t.api.request('DELETE', `/workspace/${first.id}`, { token: user.token })).status).toBe(204);

    const second = await createSession(user, { projectId: first.projectId });
    expect(second.projectId).toBe(first.projectId);
    expect(second.id).not.toBe(first.id);
    const page = await fetchPreview(second.previewUrl, 30_000);
    expect(page.text).toContain(marker);
    expect(page.text).not.toContain(TEMPLATE_TEXT);
    expect((await fetchPreview(`${second.previewUrl}/about`)).text).toContain('About us');
    await t.api.request('DELETE', `/workspace/${second.id}`, { token: user.token });
  });

  it('files changed inside the workspace are captured as a version when the session ends', async () => {
    const user = await t.api.newUser('inside');
    const session = await createSession(user);
    const marker = `Written inside the container ${Date.now()}`;
    const exec = await docker.getContainer(await containerOf(session.id)).exec({
      Cmd: [
        'sh',
        '-c',
        `sed -i 's/${TEMPLATE_TEXT}/${marker}/' src/pages/index.astro && mkdir -p src/data && echo '{"a":1}' > src/data/made.json && rm public/favicon.svg`,
      ],
      User: '1000:1000',
      WorkingDir: '/app',
    });
    await exec.start({});
    expect(await eventually(async () => (await readIndex(user, session.id)).includes(marker), 10_000)).toBe(
      true,
    );
    expect((await t.api.request('DELETE', `/workspace/${session.id}`, { token: user.token })).status).toBe(
      204,
    );

    const versions = await t.api.request('GET', `/projects/${session.projectId}/versions`, {
      token: user.token,
    });
    expect(versions.body[0]).toMatchObject({ number: 2, kind: 'snapshot', authorSessionId: session.id });
    expect(versions.body[0].changedPaths).toEqual(['public/favicon.svg', 'src/data/made.json', INDEX]);

    const next = await createSession(user, { projectId: session.projectId });
    expect(await readIndex(user, next.id)).toContain(marker);
    const tree = await t.api.request('GET', `/workspace/${next.id}/files`, { token: user.token });
    const paths = tree.body.entries.map((e: { path: string }) => e.path);
    expect(paths).toContain('src/data/made.json');
    expect(paths).not.toContain('public/favicon.svg');
    await t.api.request('DELETE', `/workspace/${next.id}`, { token: user.token });
  });

  it('restore makes a new version equal to an old one, and the open preview shows it (Chromium)', async () => {
    const user = await t.api.newUser('restore');
    const session = await createSession(user);
    const original = await readIndex(user, session.id);
    for (const n of [2, 3, 4]) {
      await write(user, session.id, INDEX, original.replace(TEMPLATE_TEXT, `Headline of version ${n}`));
      // Another file between them, so each headline is its own version (no grouping).
      await write(user, session.id, `src/notes/${n}.txt`, `note ${n}\n`);
    }
    const versions = await t.api.request('GET', `/projects/${session.projectId}/versions`, {
      token: user.token,
    });
    const numbers = versions.body.map((v: { number: number }) => v.number);
    expect(numbers[0]).toBe(7);
    const v1 = versions.body.find((v: { number: number }) => v.number === 1);

    const page = await browser!.newPage();
    try {
      await page.goto(session.previewUrl);
      // Conditions evaluated in the page, as strings: this file compiles without the DOM's types.
      await page.waitForFunction(`document.body.innerText.includes('Headline of version 4')`, undefined, {
        timeout: 30_000,
      });
      const restored = await t.api.request(
        'POST',
        `/projects/${session.projectId}/versions/${v1.id}/restore`,
        { token: user.token },
      );
      expect(restored.status, restored.text).toBe(201);
      expect(restored.body.version).toMatchObject({
        number: 8,
        kind: 'restore',
        restoredFromVersionId: v1.id,
      });
      expect(restored.body.sessionsUpdated).toEqual([session.id]);
      // No reload by the test: the dev server's own HMR reloads the page.
      await page.waitForFunction(
        `document.body.innerText.includes(${JSON.stringify(TEMPLATE_TEXT)})`,
        undefined,
        {
          timeout: 30_000,
        },
      );
    } finally {
      await page.close();
    }

    const after = await t.api.request('GET', `/projects/${session.projectId}/versions`, {
      token: user.token,
    });
    expect(after.body.map((v: { number: number }) => v.number)).toEqual([8, 7, 6, 5, 4, 3, 2, 1]);
    const filesOf = async (versionId: string) =>
      (
        await t.api.request('GET', `/projects/${session.projectId}/versions/${versionId}/files`, {
          token: user.token,
        })
      ).body.files;
    expect(await filesOf(after.body[0].id)).toEqual(await filesOf(v1.id));
    expect(await readIndex(user, session.id)).toBe(original);
    const notes = await t.api.request('GET', `/workspace/${session.id}/files/src/notes/2.txt`, {
      token: user.token,
    });
    expect(notes.status).toBe(404);
    await t.api.request('DELETE', `/workspace/${session.id}`, { token: user.token });
  });

  it('two sessions of one project on two backends: every write reaches both workspaces as one history', async () => {
    const other = await t.startApp();
    const user = await t.api.newUser('mirror');
    const first = await createSession(user);
    const second = await other.api.request('POST', '/workspace/create', {
      token: user.token,
      body: { projectId: first.projectId },
    });
    expect(second.status).toBe(201);
    t.sessionIds.add(second.body.id);
    expect((await other.api.waitForSettled(user.token, second.body.id)).status).toBe('running');
    const readVia = async (api: typeof t.api, sessionId: string, path: string) =>
      (await api.request('GET', `/workspace/${sessionId}/files/${path}`, { token: user.token })).body.content;

    // Through one backend, then the other, quickly (each backend keeps the project's head between
    // changes: the other's change must be seen, not an old head).
    const a = await write(user, first.id, 'src/shared.txt', 'from the first backend\n');
    const b = await other.api.request('PUT', `/workspace/${second.body.id}/files/src/shared.txt`, {
      token: user.token,
      body: { content: 'from the second backend\n' },
    });
    expect(b.status).toBe(200);
    const c = await write(user, first.id, 'src/other.txt', 'third\n');
    expect([a.version.number, b.body.version.number, c.version.number]).toEqual([2, 3, 4]);
    for (const [api, sessionId] of [
      [t.api, first.id],
      [other.api, second.body.id],
    ] as const) {
      expect(await readVia(api, sessionId, 'src/shared.txt')).toBe('from the second backend\n');
      expect(await readVia(api, sessionId, 'src/other.txt')).toBe('third\n');
    }
    const versions = await t.api.request('GET', `/projects/${first.projectId}/versions`, {
      token: user.token,
    });
    expect(
      versions.body.map((v: { number: number; authorSessionId: string }) => [v.number, v.authorSessionId]),
    ).toEqual([
      [4, first.id],
      [3, second.body.id],
      [2, first.id],
      [1, null],
    ]);
    await t.api.request('DELETE', `/workspace/${first.id}`, { token: user.token });
    await other.api.request('DELETE', `/workspace/${second.body.id}`, { token: user.token });
  });

  it('exports the current version as a zip and a tar.gz whose files match the version', async () => {
    const user = await t.api.newUser('export');
    const project = await t.api.request('POST', '/projects', {
      token: user.token,
      body: { name: 'Spring sale: 50% off!' },
    });
    expect(project.status).toBe(201);
    expect(project.body).toMatchObject({ name: 'Spring sale: 50% off!', currentVersion: { number: 1 } });
    const files = (
      await t.api.request(
        'GET',
        `/projects/${project.body.id}/versions/${project.body.currentVersion.id}/files`,
        { token: user.token },
      )
    ).body.files as Array<{ path: string; size: number }>;

    for (const [format, read] of [
      ['zip', readZip],
      ['tar.gz', readTarGz],
    ] as const) {
      const response = await fetch(
        `${t.baseUrl}/api/v1/projects/${project.body.id}/export?format=${format}`,
        {
          headers: { authorization: `Bearer ${user.token}` },
        },
      );
      expect(response.status).toBe(200);
      expect(response.headers.get('content-disposition')).toBe(
        `attachment; filename="spring-sale-50-off-v1.${format}"`,
      );
      const entries = await read(Buffer.from(await response.arrayBuffer()));
      expect([...entries.keys()].sort()).toEqual(files.map((f) => `spring-sale-50-off-v1/${f.path}`).sort());
      for (const file of files) {
        const content = await t.api.request(
          'GET',
          `/projects/${project.body.id}/versions/${project.body.currentVersion.id}/files/${file.path}`,
          {
            token: user.token,
          },
        );
        const bytes =
          content.body.encoding === 'base64'
            ? Buffer.from(content.body.content, 'base64')
            : Buffer.from(content.body.content);
        expect(entries.get(`spring-sale-50-off-v1/${file.path}`)).toEqual(bytes);
      }
    }
  });

  it('rename, delete: sessions end, versions go, blobs only this project held are removed', async () => {
    const user = await t.api.newUser('delete');
    const keep = await t.api.request('POST', '/projects', { token: user.token, body: {} });
    const session = await createSession(user);
    const renamed = await t.api.request('PATCH', `/projects/${session.projectId}`, {
      token: user.token,
      body: { name: '  Doomed  ' },
    });
    expect(renamed.status).toBe(200);
    expect(renamed.body.name).toBe('Doomed');

    const unique = `Only in the doomed project ${Date.now()}`;
    await write(user, session.id, 'src/unique.txt', unique);
    const blobsWithIt = storedBlobs();
    const del = await t.api.request('DELETE', `/projects/${session.projectId}`, { token: user.token });
    expect(del.status).toBe(204);

    const status = await t.api.request('GET', `/workspace/${session.id}/status`, { token: user.token });
    expect(status.body.status).toBe('stopped');
    expect((await t.api.request('GET', `/projects/${session.projectId}`, { token: user.token })).status).toBe(
      404,
    );
    expect(
      (await t.api.request('GET', `/projects/${session.projectId}/export`, { token: user.token })).status,
    ).toBe(404);
    const rows = await t.db.query(`SELECT count(*)::int AS n FROM project_versions WHERE project_id = $1`, [
      session.projectId,
    ]);
    expect(rows[0].n).toBe(0);
    // The unique blob went; the template's blobs stayed (the other project still names them).
    const blobsAfter = storedBlobs();
    expect(blobsAfter.length).toBe(blobsWithIt.length - 1);
    const kept = await t.api.request('GET', `/projects/${keep.body.id}/export?format=tar.gz`, {
      token: user.token,
    });
    expect(kept.status).toBe(200);
  });

  it('refuses another user, unknown ids and bad paths, with the API error shape', async () => {
    const owner = await t.api.newUser('owner');
    const other = await t.api.newUser('other');
    const project = (await t.api.request('POST', '/projects', { token: owner.token, body: {} })).body;
    const otherProject = (await t.api.request('POST', '/projects', { token: other.token, body: {} })).body;
    const v1 = project.currentVersion.id;
    const unknown = '00000000-0000-4000-8000-000000000000';

    const notFound: Array<[string, string, unknown?]> = [
      ['GET', `/projects/${project.id}`],
      ['PATCH', `/projects/${project.id}`, { name: 'mine now' }],
      ['DELETE', `/projects/${project.id}`],
      ['GET', `/projects/${project.id}/versions`],
      ['GET', `/projects/${project.id}/versions/${v1}/files`],
      ['GET', `/projects/${project.id}/versions/${v1}/files/${INDEX}`],
      ['POST', `/projects/${project.id}/versions/${v1}/restore`],
      ['GET', `/projects/${project.id}/export`],
    ];
    for (const [method, path, body] of notFound) {
      const response = await t.api.request(method, path, { token: other.token, body });
      expect(response.status, `${method} ${path}`).toBe(404);
      expect(response.body).toMatchObject({
        statusCode: 404,
        error: 'Not Found',
        message: expect.stringMatching(/not found/),
      });
    }
    expect(
      (
        await t.api.request('POST', '/workspace/create', {
          token: other.token,
          body: { projectId: project.id },
        })
      ).status,
    ).toBe(404);
    // A version of another project, through this one; unknown ids.
    expect(
      (
        await t.api.request(
          'POST',
          `/projects/${project.id}/versions/${otherProject.currentVersion.id}/restore`,
          { token: owner.token },
        )
      ).status,
    ).toBe(404);
    expect(
      (
        await t.api.request(
          'GET',
          `/projects/${project.id}/versions/${otherProject.currentVersion.id}/files`,
          { token: owner.token },
        )
      ).status,
    ).toBe(404);
    expect((await t.api.request('GET', `/projects/${unknown}`, { token: owner.token })).status).toBe(404);
    expect(
      (
        await t.api.request('GET', `/projects/${project.id}/versions/${unknown}/files`, {
          token: owner.token,
        })
      ).status,
    ).toBe(404);
    expect(
      (
        await t.api.request('GET', `/projects/${project.id}/versions/${v1}/files/src/nope.astro`, {
          token: owner.token,
        })
      ).status,
    ).toBe(404);

    const bad: Array<[string, string, unknown?]> = [
      ['GET', '/projects/not-a-uuid'],
      ['GET', `/projects/${project.id}/versions/not-a-uuid/files`],
      ['GET', `/projects/${project.id}/versions/${v1}/files/src%2F..%2F..%2Fetc%2Fpasswd`],
      ['GET', `/projects/${project.id}/versions/${v1}/files/%2Fetc%2Fpasswd`],
      ['GET', `/projects/${project.id}/versions?limit=0`],
      ['GET', `/projects/${project.id}/export?format=rar`],
      ['PATCH', `/projects/${project.id}`, { name: '   ' }],
      ['PATCH', `/projects/${project.id}`, { name: 'x'.repeat(101) }],
      ['POST', '/projects', { name: 42 }],
      ['POST', '/workspace/create', { projectId: 'nope' }],
    ];
    for (const [method, path, body] of bad) {
      const response = await t.api.request(method, path, { token: owner.token, body });
      expect(response.status, `${method} ${path}`).toBe(400);
      expect(response.body).toMatchObject({ statusCode: 400, message: expect.any(String) });
      expect(response.text).not.toMatch(/at .*\.ts:\d+/);
    }
    for (const path of ['/projects', `/projects/${project.id}`, `/projects/${project.id}/versions`]) {
      expect((await t.api.request('GET', path)).status).toBe(401);
    }
  });
});

async function containerOf(sessionId: string): Promise<string> {
  const [container] = await docker.listContainers({
    filters: { label: [`dev.builder.session-id=${sessionId}`] },
  });
  return container.Id;
}

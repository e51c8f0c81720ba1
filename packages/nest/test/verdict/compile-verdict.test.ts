import type { BuildErrorEvent, VerdictOkEvent } from '@builder/shared';
import { afterAll, describe, expect, it } from 'vitest';
import { requireDocker } from '../support/docker';
import { useDockerApp } from '../support/docker-app';
import { eventually, type TestUser } from '../support/test-app';
import { subscribedSocket, type WorkspaceClientSocket } from '../support/workspace-socket';

// Ports of this file: 8800-8809.
const PORT_RANGE = { PORT_RANGE_START: '8800', PORT_RANGE_END: '8809' };
const INDEX = 'src/pages/index.astro';
const CSS = 'src/styles/theme.css';
const HERO = 'Build your landing page in minutes';

const dockerReady = requireDocker('compile-verdict');

/** What the owner's socket heard: the verdicts only. */
interface Verdicts {
  errors: BuildErrorEvent[];
  oks: VerdictOkEvent[];
}

/**
 * No browser anywhere in this file: every verdict comes from the backend asking the dev server to
 * compile what a write affects.
 */
describe.skipIf(!dockerReady)('compile verdict of every write, with no browser open (Docker)', () => {
  const t = useDockerApp(PORT_RANGE);
  const sockets: WorkspaceClientSocket[] = [];

  afterAll(() => {
    for (const socket of sockets) socket.disconnect();
  });

  async function listen(user: TestUser, sessionId: string): Promise<Verdicts> {
    const heard: Verdicts = { errors: [], oks: [] };
    await subscribedSocket(t.baseUrl, user.token, sessionId, sockets, (socket) => {
      socket.on('error', (event) => heard.errors.push(event));
      socket.on('ok', (event) => heard.oks.push(event));
    });
    return heard;
  }

  async function read(user: TestUser, sessionId: string, path: string): Promise<string> {
    const file = await t.api.request('GET', `/workspace/${sessionId}/files/${path}`, { token: user.token });
    expect(file.status, file.text).toBe(200);
    return file.body.content;
  }

  async function write(user: TestUser, sessionId: string, path: string, content: string, verify = false) {
    const put = await t.api.request(
      'PUT',
      `/workspace/${sessionId}/files/${path}${verify ? '?verify=true' : ''}`,
      {
        token: user.token,
        body: { content },
      },
    );
    expect(put.status, put.text).toBe(200);
    return put.body;
  }

  /** Waits for the next verdict event after `since` (counts of each kind) and answers it. */
  async function nextVerdict(heard: Verdicts, since: { errors: number; oks: number }) {
    expect(
      await eventually(
        async () => heard.errors.length > since.errors || heard.oks.length > since.oks,
        20_000,
        50,
      ),
    ).toBe(true);
    return { errors: heard.errors.slice(since.errors), oks: heard.oks.slice(since.oks) };
  }

  const counts = (heard: Verdicts) => ({ errors: heard.errors.length, oks: heard.oks.length });

  it('a syntax error in the page: `error` naming the file, line and column; the fix: `ok`', async () => {
    const user = await t.runningSession('verdict-page');
    const id = user.session.id;
    const heard = await listen(user, id);
    const original = await read(user, id, INDEX);

    let since = counts(heard);
    const started = Date.now();
    await write(user, id, INDEX, original.replace('const features = [', 'const features = [[;'));
    const broken = await nextVerdict(heard, since);
    console.log(`[measure] write → error event with no browser: ${Date.now() - started} ms`);
    expect(broken.oks).toEqual([]);
    expect(broken.errors[0]).toMatchObject({ sessionId: id, file: INDEX, paths: [INDEX] });
    // The front matter's 5th line: `const features = [[;` breaks at its `;`, the 20th column.
    expect(broken.errors[0].line).toBe(5);
    expect(broken.errors[0].column).toBe(20);
    expect(broken.errors[0].message).toMatch(/Unexpected ";"/);
    expect(broken.errors[0].frame).toEqual(expect.any(String));

    since = counts(heard);
    await write(user, id, INDEX, original.replace(HERO, 'Fixed without a browser'));
    const fixed = await nextVerdict(heard, since);
    expect(fixed.errors).toEqual([]);
    // The page, then the client script it loads (its `<script>` block).
    expect(fixed.oks[0]).toMatchObject({
      sessionId: id,
      paths: [INDEX],
      checked: ['/', '/src/pages/index.astro?astro&type=script&index=0&lang.ts'],
    });
  });

  it('a broken import in a component the page uses: `error` naming the component; the fix: `ok`', async () => {
    const user = await t.runningSession('verdict-import');
    const id = user.session.id;
    const heard = await listen(user, id);
    const original = await read(user, id, INDEX);
    const card = '---\nconst title = "Card";\n---\n<div class="card">{title}</div>\n';
    // The component, then the page using it: both compile.
    let since = counts(heard);
    await write(user, id, 'src/components/Card.astro', card);
    await write(
      user,
      id,
      INDEX,
      original
        .replace(
          "import '../styles/theme.css';",
          "import '../styles/theme.css';\nimport Card from '../components/Card.astro';",
        )
        .replace('<main>', '<main>\n    <Card />'),
      true,
    );
    expect(await eventually(async () => heard.oks.length >= since.oks + 2, 20_000, 50)).toBe(true);
    expect(heard.errors.length).toBe(since.errors);

    since = counts(heard);
    await write(
      user,
      id,
      'src/components/Card.astro',
      card
        .replace('const title', 'import Missing from "./Missing.astro";\nconst title')
        .replace('{title}', '<Missing />'),
    );
    const broken = await nextVerdict(heard, since);
    expect(broken.oks).toEqual([]);
    expect(broken.errors[0]).toMatchObject({
      file: 'src/components/Card.astro',
      line: 2,
      paths: ['src/components/Card.astro'],
    });
    expect(broken.errors[0].column).toBeGreaterThan(0);
    expect(broken.errors[0].message).toMatch(/Missing\.astro/);

    since = counts(heard);
    await write(user, id, 'src/components/Card.astro', card);
    const fixed = await nextVerdict(heard, since);
    expect(fixed.errors).toEqual([]);
    // A component may be used by any page: every page is compiled.
    expect(fixed.oks[0].checked[0]).toBe('/');
  });

  it("a syntax error in the page's client script (the page itself renders): `error` at its line in the page", async () => {
    const user = await t.runningSession('verdict-script');
    const id = user.session.id;
    const heard = await listen(user, id);
    const original = await read(user, id, INDEX);
    const anchor = "const button = document.getElementById('counter');";
    const broken = original.replace(anchor, `${anchor}\n  const broken: = 1;`);

    let since = counts(heard);
    await write(user, id, INDEX, broken);
    const failed = await nextVerdict(heard, since);
    expect(failed.oks).toEqual([]);
    expect(failed.errors[0]).toMatchObject({
      file: INDEX,
      line: broken.split('\n').findIndex((line) => line.includes('const broken')) + 1,
      paths: [INDEX],
    });
    expect(failed.errors[0].message).toMatch(/Unexpected "="/);

    since = counts(heard);
    await write(user, id, INDEX, original);
    const fixed = await nextVerdict(heard, since);
    expect(fixed.errors).toEqual([]);
    expect(fixed.oks.length).toBe(1);
  });

  it('a CSS syntax error: `error` naming the style file and line; the fix: `ok`', async () => {
    const user = await t.runningSession('verdict-css');
    const id = user.session.id;
    const heard = await listen(user, id);
    const original = await read(user, id, CSS);

    let since = counts(heard);
    const broken = `${original}\n.broken { color: red;\n`;
    await write(user, id, CSS, broken);
    const failed = await nextVerdict(heard, since);
    expect(failed.oks).toEqual([]);
    expect(failed.errors[0]).toMatchObject({ file: CSS, paths: [CSS] });
    expect(failed.errors[0].line).toBe(
      broken.split('\n').findIndex((line) => line.startsWith('.broken')) + 1,
    );
    expect(failed.errors[0].message).toMatch(/Unclosed block/);

    since = counts(heard);
    await write(user, id, CSS, `${original}\n.fixed { color: red; }\n`);
    const fixed = await nextVerdict(heard, since);
    expect(fixed.errors).toEqual([]);
    expect(fixed.oks[0].checked).toEqual([`/${CSS}`]);
  });

  it('?verify=true answers ok:false with the error for a broken write and ok:true for a good one', async () => {
    const user = await t.runningSession('verdict-verify');
    const id = user.session.id;
    const heard = await listen(user, id);
    const original = await read(user, id, INDEX);

    let started = Date.now();
    const bad = await write(
      user,
      id,
      INDEX,
      original.replace('<main>', '<main>\n  {features.map((f) => (<p>{f.title</p>))}'),
      true,
    );
    console.log(`[measure] verify of a broken page (a dev server's first error): ${Date.now() - started} ms`);
    expect(bad).toMatchObject({ path: INDEX, ok: false, version: { number: expect.any(Number) } });
    expect(bad.size).toBeGreaterThan(0);
    expect(bad.errors.length).toBeGreaterThan(0);
    expect(bad.errors[0]).toMatchObject({
      file: INDEX,
      line: expect.any(Number),
      column: expect.any(Number),
    });
    expect(bad.errors[0].message.length).toBeGreaterThan(0);

    started = Date.now();
    const good = await write(user, id, INDEX, original.replace(HERO, 'Verified headline'), true);
    console.log(`[measure] verify of a good page: ${Date.now() - started} ms`);
    expect(good).toMatchObject({ path: INDEX, ok: true, errors: [] });
    // The same verdict reached the socket.
    expect(await eventually(async () => heard.oks.some((e) => e.paths.includes(INDEX)), 10_000, 50)).toBe(
      true,
    );

    // A write without verify answers without a verdict; a verify on a style file compiles its module.
    const plain = await write(user, id, INDEX, original);
    expect(plain).not.toHaveProperty('ok');
    const css = await write(user, id, CSS, `${await read(user, id, CSS)}\n.x { color: blue; }\n`, true);
    expect(css).toMatchObject({ ok: true, errors: [] });

    const badQuery = await t.api.request('PUT', `/workspace/${id}/files/${INDEX}?verify=maybe`, {
      token: user.token,
      body: { content: original },
    });
    expect(badQuery.status).toBe(400);
    expect(badQuery.body.message).toMatch(/verify must be true or false/);
  });

  it('the verdicts of two quick writes do not cross', async () => {
    const user = await t.runningSession('verdict-order');
    const id = user.session.id;
    const original = await read(user, id, INDEX);
    const broken = original.replace('const features = [', 'const features = [[;');
    for (let i = 0; i < 3; i++) {
      // A write answered at once (its verdict still running), then at once a write with verify:
      // the second's answer is about the second's files, never the first's verdict.
      await write(user, id, INDEX, broken);
      const good = await write(user, id, INDEX, original.replace(HERO, `Good ${i}`), true);
      expect(good.ok, JSON.stringify(good.errors)).toBe(true);
      await write(user, id, INDEX, original.replace(HERO, `Good again ${i}`));
      const bad = await write(user, id, INDEX, broken, true);
      expect(bad.ok).toBe(false);
      expect(bad.errors[0].file).toBe(INDEX);
    }
    expect((await write(user, id, INDEX, original, true)).ok).toBe(true);
  });
});

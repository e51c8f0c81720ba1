import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chownSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/browser';
import { watchViteConnections } from '../support/builder-page';
import { expectHotEdit } from '../support/hot-edit';
import { cleanUp } from '../support/clean-up';
import { docker, removeLabelled, requireDocker } from '../support/docker';
import { fetchText, freePort, waitFor } from '../support/http';

const IMAGE = process.env.TEMPLATE_IMAGE_LOCAL ?? 'baseline-landing-template:latest';
const TEMPLATE_DIR = join(__dirname, '../../workspace-templates/baseline-landing');
const HERO = 'Build your landing page in minutes';
// Every container of this file carries it: removed by it, even one whose `docker run` failed.
const LABEL = `dev.builder.test=template-image-${process.pid}`;
const tempDirs: string[] = [];

function run(args: string[]): Promise<string> {
  return docker('run', '-d', '--label', LABEL, ...args);
}

async function waitForHero(url: string, text = HERO): Promise<void> {
  await waitFor(`${url} to serve "${text}"`, async () => {
    const { status, body } = await fetchText(url);
    return status === 200 && body.includes(text) ? true : undefined;
  });
}

/** A copy of the template's sources, owned by the container's user (uid 1000), for bind mounts. */
function workspaceCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'workspace-'));
  tempDirs.push(dir);
  cpSync(TEMPLATE_DIR, dir, {
    recursive: true,
    filter: (src) => !/(^|\/)(node_modules|\.astro|\.vite|dist)(\/|$)/.test(src.slice(TEMPLATE_DIR.length)),
  });
  const chownTree = (path: string): void => {
    chownSync(path, 1000, 1000);
    if (statSync(path).isDirectory()) for (const entry of readdirSync(path)) chownTree(join(path, entry));
  };
  chownTree(dir);
  return dir;
}

let enabled = false;

beforeAll(async () => {
  enabled = await requireDocker('template image tests');
  if (enabled) await docker('image', 'inspect', IMAGE);
});

afterAll(() =>
  cleanUp([
    () => enabled && removeLabelled(LABEL),
    ...tempDirs.map((dir) => () => rmSync(dir, { recursive: true, force: true })),
  ]),
);

describe('baseline template image', () => {
  it('serves the landing page with 512 MiB and half a CPU, and reports healthy', async ({ skip }) => {
    if (!enabled) skip();
    const port = await freePort(8200, 8299);
    const id = await run([
      '--memory', '512m', '--cpus', '0.5',
      '--health-interval', '1s', '--health-start-period', '2s',
      '-p', `127.0.0.1:${port}:4321`, IMAGE,
    ]);
    await waitForHero(`http://127.0.0.1:${port}/`);
    const { body } = await fetchText(`http://127.0.0.1:${port}/`);
    expect(body).toContain('bg-gradient-to-r from-blue-600 to-purple-600');
    expect(body).toContain('grid grid-cols-1 md:grid-cols-3 gap-8');
    const health = await waitFor('health status healthy', async () => {
      const state = await docker('inspect', '-f', '{{.State.Health.Status}}', id);
      return state === 'healthy' ? state : undefined;
    }, { timeoutMs: 30_000, intervalMs: 250 });
    expect(health).toBe('healthy');
    const limits = await docker('inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.Config.User}}', id);
    expect(limits).toBe(`${512 * 1024 * 1024} 500000000 node`);
  });

  it('stops within 10 s on SIGTERM: the entrypoint forwards it to the dev server', async ({ skip }) => {
    if (!enabled) skip();
    const port = await freePort(8200, 8299);
    const id = await run(['-p', `127.0.0.1:${port}:4321`, IMAGE]);
    await waitForHero(`http://127.0.0.1:${port}/`);
    const t0 = Date.now();
    await docker('kill', '--signal', 'TERM', id);
    await waitFor('the container to exit', async () => {
      const running = await docker('inspect', '-f', '{{.State.Running}}', id);
      return running === 'false' ? true : undefined;
    }, { timeoutMs: 10_000, intervalMs: 100 });
    expect(Date.now() - t0).toBeLessThan(10_000);
    const logs = await docker('logs', id).catch(() => '');
    expect(logs).toContain('Starting Astro dev server...');
  });

  it('the health script exits 1 with a reason when the server is down', async ({ skip }) => {
    if (!enabled) skip();
    const result = await docker(
      'run', '--rm', '--label', LABEL, '--entrypoint', 'sh', IMAGE, '-c',
      'node /usr/local/share/preview/healthcheck.js 2>&1; echo "exit=$?"',
    );
    expect(result).toContain('unhealthy: http://127.0.0.1:4321/');
    expect(result).toContain('exit=1');
  });

  it('hot-reloads bind-mounted workspace files in Chromium on a published port', async ({ skip }) => {
    if (!enabled) skip();
    const dir = workspaceCopy();
    const port = await freePort(8200, 8299);
    await run(['-v', `${dir}:/app`, '-p', `127.0.0.1:${port}:4321`, IMAGE]);
    const url = `http://127.0.0.1:${port}/`;
    await waitForHero(url);

    const { browser, close } = await launchChromium();
    try {
      const page = await browser.newPage();
      const vite = watchViteConnections(page);
      await page.goto(url, { waitUntil: 'load' });
      await page.locator('#hero-title').waitFor();
      await vite.connected(1);

      // .astro markup: Astro reloads the page by itself; the test never reloads it.
      const indexPath = join(dir, 'src/pages/index.astro');
      const original = readFileSync(indexPath, 'utf8');
      writeFileSync(indexPath, original.replace(HERO, 'Edited through the bind mount'));
      await page.waitForFunction(
        () => document.querySelector('#hero-title')?.textContent?.includes('Edited through the bind mount'),
        undefined,
        { timeout: 15_000 },
      );

      // A CSS file: a hot update, no reload (a marker on window survives).
      await vite.connected(2); // the reloaded page's own socket
      const cssPath = join(dir, 'src/styles/theme.css');
      const css = readFileSync(cssPath, 'utf8');
      await expectHotEdit(page, {
        write: (n) => writeFileSync(cssPath, `${css}\n#hero-title { letter-spacing: ${n + 6}px; }\n`),
        applied: (n) =>
          page.evaluate((px) => getComputedStyle(document.querySelector('#hero-title')!).letterSpacing === px, `${n + 6}px`),
      });

      // A <style> block inside the .astro file: also a hot update without reload.
      const current = readFileSync(indexPath, 'utf8');
      await expectHotEdit(page, {
        write: (n) =>
          writeFileSync(indexPath, current.replace('min-width: 12rem;', `min-width: 12rem;\n    outline: 3px solid rgb(255, ${n}, 0);`)),
        applied: (n) =>
          page.evaluate((color) => getComputedStyle(document.querySelector('#counter')!).outlineColor === color, `rgb(255, ${n}, 0)`),
      });
    } finally {
      await close();
    }
  });

  it('survives a template syntax error and recovers when the file is fixed', async ({ skip }) => {
    if (!enabled) skip();
    const dir = workspaceCopy();
    const port = await freePort(8200, 8299);
    const id = await run(['-v', `${dir}:/app`, '-p', `127.0.0.1:${port}:4321`, IMAGE]);
    const url = `http://127.0.0.1:${port}/`;
    await waitForHero(url);

    const indexPath = join(dir, 'src/pages/index.astro');
    const original = readFileSync(indexPath, 'utf8');
    writeFileSync(indexPath, original.replace('<main>', '<main>\n  {features.map((f) => (<p>{f.title</p>))}'));
    const broken = await waitFor('the dev server to report the error', async () => {
      const res = await fetchText(url);
      return res.status >= 500 ? res : undefined;
    }, { timeoutMs: 20_000, intervalMs: 200 });
    expect(broken.status).toBe(500);
    expect(await docker('inspect', '-f', '{{.State.Running}}', id)).toBe('true');

    writeFileSync(indexPath, original.replace(HERO, 'Fixed again'));
    await waitForHero(url, 'Fixed again');
    expect(await docker('inspect', '-f', '{{.State.Running}}', id)).toBe('true');
  });
});

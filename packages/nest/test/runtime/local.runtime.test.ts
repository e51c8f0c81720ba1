import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanUp } from '../../../../tests/support/clean-up';
import { HttpProbe } from '../../src/shared/runtime/http-probe.service';
import { LocalRuntime, WATCHDOG_SCRIPT } from '../../src/shared/runtime/local.runtime';
import { groupAlive } from '../../src/shared/runtime/process-group.util';
import type { RuntimeOptions } from '../../src/shared/runtime/runtime-options';
import {
  PortUnavailableError,
  WorkspaceFileError,
  WorkspaceNotFoundError,
} from '../../src/shared/runtime/runtime.errors';
import { WORKSPACE_LABELS } from '../../src/shared/runtime/workspace-runtime.interface';
import { TemplateService } from '../../src/shared/services/template.service';
import {
  MIB,
  TEMPLATE_DIR,
  TEMPLATE_TEXT,
  fetchPage,
  followOutput,
  freeTestPort,
  processAlive,
  testOptions,
  waitFor,
  workspaceSpec,
} from './runtime-test.helpers';

const runId = `local-${process.pid}-${Date.now()}`;

async function fileError(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    return error instanceof WorkspaceFileError
      ? error.reason
      : `${(error as Error).name}: ${(error as Error).message}`;
  }
}

describe('LocalRuntime with real child processes', () => {
  let options: RuntimeOptions;
  let dataDir: string;
  let runtime: LocalRuntime;
  let id: string;
  let hostPort: number;
  let pid: number;

  beforeAll(async () => {
    expect(existsSync(join(TEMPLATE_DIR, 'node_modules', 'astro', 'astro.js'))).toBe(true);
    dataDir = await mkdtemp(join(tmpdir(), 'local-runtime-test-'));
    options = testOptions({ dataDir, runtime: 'local' });
    runtime = new LocalRuntime(options);
  });

  // Kills every process group this runtime started, then drops the data folder.
  afterAll(() => cleanUp([() => runtime?.onModuleDestroy(), () => dataDir && rm(dataDir, { recursive: true, force: true })]));

  it('creates a workspace folder with the template sources and a node_modules link', async () => {
    hostPort = await freeTestPort();
    const startedAt = Date.now();
    ({ id } = await runtime.create(workspaceSpec({ runId, sessionId: `t-${runId}-a`, hostPort })));
    const dir = join(dataDir, 'workspaces', id);
    expect(existsSync(join(dir, 'src/pages/index.astro'))).toBe(true);
    expect(existsSync(join(dir, 'Dockerfile'))).toBe(false);
    expect(existsSync(join(dir, '.astro'))).toBe(false);
    expect((await lstat(join(dir, 'node_modules'))).isSymbolicLink()).toBe(true);
    expect((await runtime.inspect(id)).state).toBe('created');

    await runtime.start(id);
    const address = await runtime.address(id);
    expect(address).toEqual({ host: '127.0.0.1', port: hostPort });
    const page = await waitFor(
      'the dev server to answer 200',
      async () => {
        const result = await fetchPage(`http://${address.host}:${address.port}/`);
        return result?.status === 200 ? result : null;
      },
      90_000, // generous: the machine is shared; medians are measured apart from tests
    );
    expect(page.text).toContain(TEMPLATE_TEXT);
    console.log(`[local] create → first 200: ${Date.now() - startedAt} ms`);
    const info = await runtime.inspect(id);
    expect(info).toMatchObject({ state: 'running', exitCode: null, health: 'none' });
    expect(info.labels[WORKSPACE_LABELS.sessionId]).toBe(id);
    pid = (runtime as unknown as { workspaces: Map<string, { child: { pid: number } }> }).workspaces.get(id)!
      .child.pid;
    expect(processAlive(pid)).toBe(true);
  });

  it('lists files without node_modules and serves a written file', async () => {
    const paths = (await runtime.listFiles(id)).map((entry) => entry.path);
    expect(paths).toContain('src/pages/index.astro');
    expect(paths.some((path) => path.split('/').includes('node_modules') || path.startsWith('.vite'))).toBe(
      false,
    );

    const marker = `Edited locally ${Date.now()}`;
    const original = (await runtime.readFile(id, 'src/pages/index.astro')).toString();
    await runtime.writeFile(
      id,
      'src/pages/index.astro',
      Buffer.from(original.replace(TEMPLATE_TEXT, marker)),
    );
    expect((await runtime.readFile(id, 'src/pages/index.astro')).toString()).toContain(marker);
    await waitFor(
      'the edited page to be served',
      async () => (await fetchPage(`http://127.0.0.1:${hostPort}/`))?.text.includes(marker),
      20_000,
    );
    await runtime.writeFile(id, 'src/components/deep/New.astro', Buffer.from('<p>new</p>'));
    expect((await runtime.readFile(id, 'src/components/deep/New.astro')).toString()).toBe('<p>new</p>');
  });

  it('refuses reads and writes that leave the workspace', async () => {
    const dir = join(dataDir, 'workspaces', id);
    const secret = join(dataDir, 'secret.txt');
    await writeFile(secret, 'outside');
    await symlink(secret, join(dir, 'src/link-out.txt'));
    await symlink(dataDir, join(dir, 'src/dir-out'));

    expect(await fileError(runtime.readFile(id, 'node_modules/astro/package.json'))).toBe('outside');
    expect(await fileError(runtime.readFile(id, 'node_modules'))).toBe('outside');
    expect(await fileError(runtime.readFile(id, 'src/link-out.txt'))).toBe('outside');
    expect(await fileError(runtime.readFile(id, '../secret.txt'))).toBe('outside');
    expect(await fileError(runtime.writeFile(id, 'src/link-out.txt', Buffer.from('x')))).toBe('outside');
    expect(await fileError(runtime.writeFile(id, 'src/dir-out/planted.txt', Buffer.from('x')))).toBe(
      'outside',
    );
    expect(await fileError(runtime.writeFile(id, 'node_modules/planted.js', Buffer.from('x')))).toBe(
      'outside',
    );
    expect(await fileError(runtime.readFile(id, 'src'))).toBe('not-a-file');
    expect(await fileError(runtime.readFile(id, 'src/missing.astro'))).toBe('not-found');
    expect(await readFile(secret, 'utf8')).toBe('outside');
    expect(existsSync(join(dataDir, 'planted.txt'))).toBe(false);
    expect(existsSync(join(TEMPLATE_DIR, 'node_modules', 'planted.js'))).toBe(false);
    // The links would lead Tailwind's content scan out of the workspace: take them away again.
    await rm(join(dir, 'src/link-out.txt'));
    await rm(join(dir, 'src/dir-out'));
  });

  it('execs in the workspace folder and reports exit codes and output', async () => {
    const result = await runtime.exec(id, ['sh', '-c', 'pwd; echo err >&2; exit 4']);
    expect(result.exitCode).toBe(4);
    expect(result.stdout.trim()).toMatch(new RegExp(`workspaces/${id}$`));
    expect(result.stderr).toBe('err\n');
    expect((await runtime.exec(id, ['no-such-command-xyz'])).exitCode).toBe(127);
  });

  it('reports stats, logs and its own list', async () => {
    const stats = await runtime.stats(id);
    expect(stats.memoryBytes).toBeGreaterThan(50 * MIB);
    expect(stats.memoryLimitBytes).toBe(512 * MIB);
    expect(stats.pids).toBeGreaterThanOrEqual(2);
    expect((await runtime.logs(id)).join('\n')).toMatch(/astro/i);
    expect((await runtime.list()).map((info) => info.id)).toEqual([id]);
    await runtime.updateResources(id, { cpuCores: 0.5 });
  });

  it("follows the dev server's output: its last lines, then each new line, until unsubscribed", async () => {
    const followed = await followOutput(runtime, id, 50);
    expect(followed.lines.map((l) => l.line).join('\n')).toMatch(/ready in/);
    await fetchPage(`http://127.0.0.1:${hostPort}/follow-marker`);
    for (let i = 0; i < 100 && !followed.lines.some((l) => l.line.includes('/follow-marker')); i++)
      await sleep(50);
    expect(followed.lines.find((l) => l.line.includes('/follow-marker'))?.stream).toBe('stdout');
    followed.stop();
    const count = followed.lines.length;
    await fetchPage(`http://127.0.0.1:${hostPort}/after-stop`);
    await sleep(300);
    expect(followed.lines.length).toBe(count);
  });

  it('initializes the workspace through TemplateService without installing', async () => {
    const templates = new TemplateService(runtime, options, new HttpProbe());
    const result = await templates.initializeWorkspace(id, 'baseline-landing', { timeoutMs: 30_000 });
    expect(result).toEqual({ installed: false, readyAfterMs: expect.any(Number) });
    expect(result.readyAfterMs).toBeLessThan(30_000);
  });

  it('refuses a second dev server on a taken port', async () => {
    const second = await runtime.create(workspaceSpec({ runId, sessionId: `t-${runId}-b`, hostPort }));
    await expect(runtime.start(second.id)).rejects.toBeInstanceOf(PortUnavailableError);
    await runtime.remove(second.id);
  });

  it('stops the whole process group, then removes the folder', async () => {
    await runtime.stop(id, 5);
    const info = await runtime.inspect(id);
    expect(info.state).toBe('exited');
    expect(info.exitCode).not.toBeNull();
    expect(processAlive(pid)).toBe(false);
    expect(await groupAlive(pid)).toBe(false);
    expect(await fetchPage(`http://127.0.0.1:${hostPort}/`, 1_000)).toBeNull();

    await runtime.remove(id);
    expect(existsSync(join(dataDir, 'workspaces', id))).toBe(false);
    await runtime.remove(id);
    await expect(runtime.inspect(id)).rejects.toBeInstanceOf(WorkspaceNotFoundError);
  });

  it('remove kills a running dev server at once', async () => {
    const port = await freeTestPort();
    const { id: other } = await runtime.create(
      workspaceSpec({ runId, sessionId: `t-${runId}-c`, hostPort: port }),
    );
    await runtime.start(other);
    const otherPid = (
      runtime as unknown as { workspaces: Map<string, { child: { pid: number } }> }
    ).workspaces.get(other)!.child.pid;
    await runtime.remove(other);
    expect(await groupAlive(otherPid)).toBe(false);
    expect(existsSync(join(dataDir, 'workspaces', other))).toBe(false);
  });
});

describe('the local watchdog', () => {
  const started: number[] = [];
  const backends: ChildProcess[] = [];

  // The stand-in backend and the group it started, also when the test failed before killing them.
  afterEach(() => {
    for (const backend of backends.splice(0)) backend.kill('SIGKILL');
    for (const pgid of started.splice(0)) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });

  it('takes the process group down when the backend dies by SIGKILL', async () => {
    // A stand-in backend: starts a watchdog group the way LocalRuntime does, prints its pid, waits.
    const backend = spawn(
      process.execPath,
      [
        '-e',
        `const { spawn } = require('node:child_process');
         const child = spawn('/bin/sh', ['-c', process.argv[1], 'workspace-watchdog', 'sleep', '600'], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
         console.log(child.pid);
         setInterval(() => {}, 1000);`,
        WATCHDOG_SCRIPT,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    backends.push(backend);
    const pgid = await new Promise<number>((resolve) =>
      backend.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim()))),
    );
    started.push(pgid);
    await sleep(200);
    expect(await groupAlive(pgid)).toBe(true);
    backend.kill('SIGKILL');
    // The watchdog's own bound is ~3 s (TERM, then KILL); the wait is wider for a loaded machine.
    await waitFor('the orphaned group to be gone', async () => !(await groupAlive(pgid)), 30_000, 50);
  });
});

import { randomBytes } from 'node:crypto';
import type { ContainerSpec } from '@builder/shared';
import { expect, it } from 'vitest';
import { HttpProbe } from '../../src/shared/runtime/http-probe.service';
import type { RuntimeOptions } from '../../src/shared/runtime/runtime-options';
import { WorkspaceFileError, WorkspaceNotFoundError } from '../../src/shared/runtime/runtime.errors';
import type { WorkspaceRuntime } from '../../src/shared/runtime/workspace-runtime.interface';
import { TemplateService } from '../../src/shared/services/template.service';
import { MIB, TEMPLATE_TEXT, fetchPage, followOutput, waitFor } from './runtime-test.helpers';

/**
 * The behaviour every WorkspaceRuntime owes the backend, run against each of them (docker, local,
 * swarm) on the real thing. The cases share one workspace, made by the first and removed by the
 * last but one, and run in order; a runtime's own cases go in between, while it runs.
 */

/** A page written into a created workspace before its start. */
const PREPARED_PAGE = { path: 'src/pages/prepared.astro', content: '<p>written before the start</p>' };

/** What the cases share: the runtime under test and its one workspace. */
export interface ContractWorkspace {
  runtime: WorkspaceRuntime;
  options: RuntimeOptions;
  /** A spec for a new workspace of this run, with its own session id. */
  newSpec(suffix: string): Promise<ContainerSpec>;
  /** Set by the first case. */
  id: string;
  spec: ContainerSpec;
}

export interface ContractCase {
  name: string;
  run(workspace: ContractWorkspace): Promise<void>;
}

/** Answers the reason of the WorkspaceFileError a promise rejects with, `resolved`, or the other error. */
export async function fileError(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    return error instanceof WorkspaceFileError ? error.reason : `${(error as Error).name}: ${(error as Error).message}`;
  }
}

/** Polls the workspace's dev server at its runtime address until `accept` holds; answers the page. */
export async function waitForPage(
  workspace: ContractWorkspace,
  what: string,
  accept: (text: string) => boolean,
  timeoutMs = 90_000, // generous: the machine is shared; medians are measured apart from tests
): Promise<string> {
  const { host, port } = await workspace.runtime.address(workspace.id);
  const page = await waitFor(
    what,
    async () => {
      const result = await fetchPage(`http://${host}:${port}/`);
      return result?.status === 200 && accept(result.text) ? result : null;
    },
    timeoutMs,
  );
  return page.text;
}

/** The contract's cases, with a runtime's own `whileRunning` cases after the ones that need its workspace up. */
export function contractCases(whileRunning: ContractCase[] = []): ContractCase[] {
  return [
    {
      name: 'creates and starts a workspace whose address answers 200 with the template page',
      async run(workspace) {
        workspace.spec = await workspace.newSpec('a');
        const startedAt = Date.now();
        ({ id: workspace.id } = await workspace.runtime.create(workspace.spec));
        expect((await workspace.runtime.inspect(workspace.id)).state).toBe('created');
        // A project's files are written between create and start (ProjectSyncService.prepare).
        await workspace.runtime.applyChanges(workspace.id, {
          writes: [{ path: PREPARED_PAGE.path, content: Buffer.from(PREPARED_PAGE.content) }],
          deletes: [],
        });
        expect((await workspace.runtime.inspect(workspace.id)).state).toBe('created');
        await workspace.runtime.start(workspace.id);
        const page = await waitForPage(workspace, 'the dev server to answer 200', () => true);
        expect(page).toContain(TEMPLATE_TEXT);
        console.log(`[${workspace.runtime.kind}] create → first 200: ${Date.now() - startedAt} ms`);
        const { host, port } = await workspace.runtime.address(workspace.id);
        expect((await fetchPage(`http://${host}:${port}/prepared`))?.text).toContain(PREPARED_PAGE.content);
      },
    },
    {
      name: 'lists the template files without node_modules, .astro or .vite entries',
      async run({ runtime, id }) {
        const files = await runtime.listFiles(id);
        const paths = files.map((entry) => entry.path);
        expect(paths).toContain('src/pages/index.astro');
        expect(paths).toContain('package.json');
        expect(files.find((entry) => entry.path === 'src/pages')?.type).toBe('directory');
        expect(paths.some((path) => path.split('/').includes('node_modules'))).toBe(false);
        expect(paths.some((path) => path.startsWith('.astro') || path.startsWith('.vite'))).toBe(false);
      },
    },
    {
      name: 'writes a file the dev server then serves, creating folders',
      async run(workspace) {
        const { runtime, id } = workspace;
        const marker = `Edited through the runtime ${Date.now()}`;
        const original = (await runtime.readFile(id, 'src/pages/index.astro')).toString();
        const edited = original.replace(TEMPLATE_TEXT, marker);
        expect(edited).not.toBe(original);
        await runtime.writeFile(id, 'src/pages/index.astro', Buffer.from(edited));
        expect((await runtime.readFile(id, 'src/pages/index.astro')).toString()).toBe(edited);
        await waitForPage(workspace, 'the edited page to be served', (text) => text.includes(marker), 20_000);
        await runtime.writeFile(id, 'src/components/new/Hello.astro', Buffer.from('<p>hello</p>'));
        expect((await runtime.readFile(id, 'src/components/new/Hello.astro')).toString()).toBe('<p>hello</p>');
        // Back to the template's text: later cases look for it.
        await runtime.writeFile(id, 'src/pages/index.astro', Buffer.from(original));
      },
    },
    {
      name: 'refuses folders, missing files, paths out of the workspace and writes through the node_modules link',
      async run({ runtime, id }) {
        // node_modules links to the shared dependencies: outside the workspace, or not a file, by runtime.
        expect(['not-a-file', 'outside']).toContain(await fileError(runtime.readFile(id, 'node_modules')));
        expect(['not-a-file', 'outside']).toContain(
          await fileError(runtime.writeFile(id, 'node_modules/evil.js', Buffer.from('x'))),
        );
        expect(await fileError(runtime.readFile(id, 'src'))).toBe('not-a-file');
        expect(await fileError(runtime.readFile(id, 'src/pages/missing.astro'))).toBe('not-found');
        expect(await fileError(runtime.readFile(id, '../etc/passwd'))).toBe('outside');
        expect(await fileError(runtime.writeFile(id, 'src', Buffer.from('x')))).toBe('not-a-file');
      },
    },
    {
      name: 'execs in the workspace with its exit code and separate output',
      async run({ runtime, id }) {
        const mixed = await runtime.exec(id, ['sh', '-c', 'echo out; echo err >&2; exit 3']);
        expect(mixed).toEqual({ exitCode: 3, stdout: 'out\n', stderr: 'err\n' });
        const listed = await runtime.exec(id, ['ls', 'src/pages']);
        expect(listed.exitCode).toBe(0);
        expect(listed.stdout).toContain('index.astro');
      },
    },
    {
      name: 'reports its state, stats and logs',
      async run({ runtime, id }) {
        const info = await runtime.inspect(id);
        expect(info).toMatchObject({ id, state: 'running', exitCode: null, oomKilled: false });
        expect(info.startedAt).not.toBeNull();
        expect(info.lost).toBeUndefined();
        expect((await runtime.list()).map((entry) => entry.id)).toContain(id);
        const stats = await runtime.stats(id);
        expect(stats.memoryLimitBytes).toBe(512 * MIB);
        expect(stats.memoryBytes).toBeGreaterThan(10 * MIB);
        expect(stats.pids).toBeGreaterThan(0);
        expect(stats.cpuPercent).toBeGreaterThanOrEqual(0);
        expect((await runtime.logs(id, { tail: 50 })).join('\n')).toMatch(/astro/i);
      },
    },
    {
      name: "follows the dev server's output: its last lines, then each new line, until unsubscribed",
      async run({ runtime, id }) {
        const followed = await followOutput(runtime, id, 200);
        await waitFor('the last lines', async () => followed.lines.some((l) => /ready in/.test(l.line)), 10_000, 50);
        // Astro prints every request it serves.
        const { host, port } = await runtime.address(id);
        await fetchPage(`http://${host}:${port}/follow-marker`);
        await waitFor(
          'the request line',
          async () => followed.lines.some((l) => l.stream === 'stdout' && l.line.includes('/follow-marker')),
          10_000,
          50,
        );
        followed.stop();
        const count = followed.lines.length;
        await fetchPage(`http://${host}:${port}/after-stop`);
        await new Promise((resolve) => setTimeout(resolve, 500));
        expect(followed.lines.length).toBe(count);
        await expect(runtime.followLogs('no-such-workspace', () => undefined)).rejects.toBeInstanceOf(WorkspaceNotFoundError);
      },
    },
    {
      name: 'measures the disk its files take, growing and shrinking with them',
      async run({ runtime, id }) {
        const before = await runtime.diskUsage(id);
        expect(before.usedBytes).toBeGreaterThan(0);
        expect(typeof before.cheap).toBe('boolean');
        // Random bytes: a compressing file system cannot make them smaller.
        await runtime.writeFile(id, 'public/big.bin', randomBytes(2 * MIB));
        const grown = await runtime.diskUsage(id);
        expect(grown.usedBytes - before.usedBytes).toBeGreaterThanOrEqual(1.5 * MIB);
        await runtime.applyChanges(id, { writes: [], deletes: ['public/big.bin'] });
        const shrunk = await runtime.diskUsage(id);
        expect(grown.usedBytes - shrunk.usedBytes).toBeGreaterThanOrEqual(1.5 * MIB);
      },
    },
    {
      name: 'is made ready by TemplateService without an install',
      async run({ runtime, options, id }) {
        const templates = new TemplateService(runtime, options, new HttpProbe());
        const result = await templates.initializeWorkspace(id, 'baseline-landing', { timeoutMs: 30_000 });
        expect(result).toEqual({ installed: false, readyAfterMs: expect.any(Number) });
        expect(() => templates.templateDefinition('no-such-template')).toThrow(/unknown template "no-such-template"/);
      },
    },
    {
      name: 'reads the whole tree and applies a batch of deletes and writes',
      async run({ runtime, id }) {
        await runtime.writeFile(id, 'src/old/Gone.astro', Buffer.from('<p>gone</p>'));
        await runtime.writeFile(id, 'src/old-file.txt', Buffer.from('old'));
        await runtime.writeFile(id, 'src/batch/Two.astro', Buffer.from('<p>before</p>'));
        await runtime.applyChanges(id, {
          writes: [
            { path: 'src/batch/deep/One.astro', content: Buffer.from('<p>one</p>') },
            { path: 'src/batch/Two.astro', content: Buffer.from('<p>two</p>') },
          ],
          deletes: ['src/old/Gone.astro', 'src/old-file.txt', 'src/never-was.txt'],
        });
        const tree = await runtime.readTree(id);
        const byPath = new Map(tree.map((file) => [file.path, file.content.toString()]));
        expect(byPath.get('src/batch/deep/One.astro')).toBe('<p>one</p>');
        expect(byPath.get('src/batch/Two.astro')).toBe('<p>two</p>');
        expect(byPath.has('src/old/Gone.astro')).toBe(false);
        expect(byPath.has('src/old-file.txt')).toBe(false);
        expect(byPath.get('package.json')).toContain('"astro"');
        expect(tree.some((file) => file.path.split('/').some((part) => ['node_modules', '.astro', '.vite', '.git'].includes(part)))).toBe(false);
        expect(await fileError(runtime.readFile(id, 'src/old/Gone.astro'))).toBe('not-found');
        expect(
          await fileError(runtime.applyChanges(id, { writes: [{ path: '../escape.txt', content: Buffer.from('x') }], deletes: [] })),
        ).toBe('outside');
        // Deletes are of files: a folder is refused.
        expect(await fileError(runtime.applyChanges(id, { writes: [], deletes: ['src/batch'] }))).toBe('not-a-file');
        expect((await runtime.readFile(id, 'src/batch/Two.astro')).toString()).toBe('<p>two</p>');
      },
    },
    ...whileRunning,
    {
      name: 'stops, keeps its files readable, and serves again once started',
      async run(workspace) {
        const { runtime, id } = workspace;
        const followed = await followOutput(runtime, id, 0);
        await runtime.stop(id, 5);
        // The output of a stopped workspace ends, and its follower is told.
        await followed.ended;
        const stopped = await runtime.inspect(id);
        expect(stopped.state).toBe('exited');
        expect(stopped.exitCode).not.toBeNull();
        expect((await runtime.readFile(id, 'package.json')).length).toBeGreaterThan(0);
        await runtime.stop(id, 5);
        await runtime.start(id);
        expect(await waitForPage(workspace, 'the restarted dev server to answer 200', () => true)).toContain(TEMPLATE_TEXT);
        expect((await runtime.inspect(id)).state).toBe('running');
      },
    },
    {
      name: 'removes the workspace, idempotently',
      async run({ runtime, id }) {
        await runtime.remove(id);
        await expect(runtime.inspect(id)).rejects.toBeInstanceOf(WorkspaceNotFoundError);
        expect((await runtime.list()).map((entry) => entry.id)).not.toContain(id);
        await runtime.remove(id);
      },
    },
    {
      name: 'removes by session what a never-started workspace left',
      async run({ runtime, newSpec }) {
        const spec = await newSpec('b');
        const created = await runtime.create(spec);
        await runtime.removeBySession?.(spec.sessionId);
        await expect(runtime.inspect(created.id)).rejects.toBeInstanceOf(WorkspaceNotFoundError);
        await runtime.removeBySession?.(spec.sessionId);
      },
    },
  ];
}

/** Registers the cases as this suite's tests, in order, on the workspace `workspace()` answers once set up. */
export function registerContract(workspace: () => ContractWorkspace, cases: ContractCase[]): void {
  for (const contractCase of cases) it(contractCase.name, () => contractCase.run(workspace()));
}

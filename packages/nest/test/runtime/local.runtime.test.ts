import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanUp } from '../../../../tests/support/clean-up';
import { LocalRuntime, WATCHDOG_SCRIPT } from '../../src/shared/runtime/local.runtime';
import { groupAlive } from '../../src/shared/runtime/process-group.util';
import type { RuntimeOptions } from '../../src/shared/runtime/runtime-options';
import { PortUnavailableError } from '../../src/shared/runtime/runtime.errors';
import { WORKSPACE_LABELS, type WorkspaceRuntime } from '../../src/shared/runtime/workspace-runtime.interface';
import { type ContractCase, type ContractWorkspace, contractCases, fileError, registerContract } from './runtime-contract';
import {
  TEMPLATE_DIR,
  fetchPage,
  freeTestPort,
  processAlive,
  testOptions,
  waitFor,
  workspaceSpec,
} from './runtime-test.helpers';

const runId = `local-${process.pid}-${Date.now()}`;

/** The local runtime's own cases, run on the contract's workspace while it runs. */
const localCases: ContractCase[] = [
  {
    name: 'keeps the workspace in a folder of its own with a node_modules link, served on the host port',
    async run({ runtime, id, spec, options }) {
      const dir = join(options.dataDir, 'workspaces', id);
      expect(existsSync(join(dir, 'src/pages/index.astro'))).toBe(true);
      expect(existsSync(join(dir, 'Dockerfile'))).toBe(false);
      expect((await lstat(join(dir, 'node_modules'))).isSymbolicLink()).toBe(true);
      expect(await runtime.address(id)).toEqual({ host: '127.0.0.1', port: spec.hostPort });
      const info = await runtime.inspect(id);
      expect(info).toMatchObject({ health: 'none' });
      expect(info.labels[WORKSPACE_LABELS.sessionId]).toBe(id);
      expect(processAlive(childPid(runtime, id))).toBe(true);
      expect((await runtime.exec(id, ['pwd'])).stdout.trim()).toMatch(new RegExp(`workspaces/${id}$`));
      expect((await runtime.exec(id, ['no-such-command-xyz'])).exitCode).toBe(127);
      expect((await runtime.list()).map((entry) => entry.id)).toEqual([id]);
      await runtime.updateResources(id, { cpuCores: 0.5 });
    },
  },
  {
    name: 'refuses reads and writes that leave the workspace through links',
    async run({ runtime, id, options }) {
      const dataDir = options.dataDir;
      const dir = join(dataDir, 'workspaces', id);
      const secret = join(dataDir, 'secret.txt');
      await writeFile(secret, 'outside');
      await symlink(secret, join(dir, 'src/link-out.txt'));
      await symlink(dataDir, join(dir, 'src/dir-out'));
      try {
        expect(await fileError(runtime.readFile(id, 'node_modules/astro/package.json'))).toBe('outside');
        expect(await fileError(runtime.readFile(id, 'src/link-out.txt'))).toBe('outside');
        expect(await fileError(runtime.writeFile(id, 'src/link-out.txt', Buffer.from('x')))).toBe('outside');
        expect(await fileError(runtime.writeFile(id, 'src/dir-out/planted.txt', Buffer.from('x')))).toBe('outside');
        expect(await fileError(runtime.writeFile(id, 'node_modules/planted.js', Buffer.from('x')))).toBe('outside');
        expect(await readFile(secret, 'utf8')).toBe('outside');
        expect(existsSync(join(dataDir, 'planted.txt'))).toBe(false);
        expect(existsSync(join(TEMPLATE_DIR, 'node_modules', 'planted.js'))).toBe(false);
      } finally {
        // The links would lead Tailwind's content scan out of the workspace: take them away again.
        await rm(join(dir, 'src/link-out.txt'));
        await rm(join(dir, 'src/dir-out'));
      }
    },
  },
  {
    name: 'refuses a second dev server on a taken port',
    async run({ runtime, spec, newSpec }) {
      const second = await runtime.create({ ...(await newSpec('c')), hostPort: spec.hostPort });
      await expect(runtime.start(second.id)).rejects.toBeInstanceOf(PortUnavailableError);
      await runtime.remove(second.id);
    },
  },
  {
    name: 'stops the whole process group',
    async run({ runtime, id, spec }) {
      const pid = childPid(runtime, id);
      await runtime.stop(id, 5);
      expect(processAlive(pid)).toBe(false);
      expect(await groupAlive(pid)).toBe(false);
      expect(await fetchPage(`http://127.0.0.1:${spec.hostPort}/`, 1_000)).toBeNull();
    },
  },
];

/** The pid of a workspace's watchdog, the leader of its process group. */
function childPid(runtime: WorkspaceRuntime, id: string): number {
  return (runtime as unknown as { workspaces: Map<string, { child: { pid: number } }> }).workspaces.get(id)!.child.pid;
}

describe('LocalRuntime with real child processes', () => {
  let options: RuntimeOptions;
  let dataDir: string;
  let runtime: LocalRuntime;
  const workspace = {} as ContractWorkspace;

  beforeAll(async () => {
    expect(existsSync(join(TEMPLATE_DIR, 'node_modules', 'astro', 'astro.js'))).toBe(true);
    dataDir = await mkdtemp(join(tmpdir(), 'local-runtime-test-'));
    options = testOptions({ dataDir, runtime: 'local' });
    runtime = new LocalRuntime(options);
    Object.assign(workspace, {
      runtime,
      options,
      newSpec: async (suffix: string) => workspaceSpec({ runId, sessionId: `t-${runId}-${suffix}`, hostPort: await freeTestPort() }),
    });
  });

  // Kills every process group this runtime started, then drops the data folder.
  afterAll(() => cleanUp([() => runtime?.onModuleDestroy(), () => dataDir && rm(dataDir, { recursive: true, force: true })]));

  registerContract(() => workspace, contractCases(localCases));

  it('removed the workspace folders', () => {
    expect(existsSync(join(dataDir, 'workspaces', workspace.id))).toBe(false);
    expect(existsSync(join(dataDir, 'workspaces', `t-${runId}-b`))).toBe(false);
  });

  it('remove kills a running dev server at once', async () => {
    const port = await freeTestPort();
    const { id: other } = await runtime.create(workspaceSpec({ runId, sessionId: `t-${runId}-d`, hostPort: port }));
    await runtime.start(other);
    const otherPid = childPid(runtime, other);
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

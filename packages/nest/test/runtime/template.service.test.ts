import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ContainerInfo, ExecResult, FileTreeEntry } from '@builder/shared';
import type { HttpProbe, ProbeOptions, ProbeResult } from '../../src/shared/runtime/http-probe.service';
import {
  UnknownTemplateError,
  WorkspaceFileError,
  WorkspaceInitError,
} from '../../src/shared/runtime/runtime.errors';
import type { WorkspaceRuntime } from '../../src/shared/runtime/workspace-runtime.interface';
import { TemplateService } from '../../src/shared/services/template.service';
import { TEMPLATE_DIR, testOptions } from './runtime-test.helpers';

/**
 * A small in-memory runtime: files in a map, exec answers scripted, the dev server's state set by
 * the test. Enough to drive every branch of TemplateService; the real runtimes are exercised by
 * docker.runtime.test.ts and local.runtime.test.ts.
 */
class FakeRuntime implements Partial<WorkspaceRuntime> {
  readonly kind = 'local' as const;
  files = new Map<string, Buffer>();
  nodeModules = true;
  execs: string[][] = [];
  execResult: ExecResult = { exitCode: 0, stdout: '', stderr: '' };
  state: ContainerInfo['state'] = 'running';

  async listFiles(): Promise<FileTreeEntry[]> {
    return [...this.files.keys()].map((path) => ({ path, type: 'file', size: this.files.get(path)!.length }));
  }
  async readFile(_id: string, path: string): Promise<Buffer> {
    if (path === 'node_modules') {
      throw new WorkspaceFileError('node_modules', this.nodeModules ? 'not-a-file' : 'not-found');
    }
    const content = this.files.get(path);
    if (!content) throw new WorkspaceFileError(path, 'not-found');
    return content;
  }
  async writeFile(_id: string, path: string, content: Buffer): Promise<void> {
    this.files.set(path, content);
  }
  async exec(_id: string, command: string[]): Promise<ExecResult> {
    this.execs.push(command);
    if (this.execResult.exitCode === 0) this.nodeModules = true;
    return this.execResult;
  }
  async inspect(id: string): Promise<ContainerInfo> {
    return {
      id,
      name: id,
      state: this.state,
      health: 'none',
      exitCode: this.state === 'exited' ? 1 : null,
      oomKilled: false,
      startedAt: null,
      labels: {},
    };
  }
  async logs(): Promise<string[]> {
    return ['[ERROR] boom'];
  }
  async address(): Promise<{ host: string; port: number }> {
    return { host: '10.0.0.9', port: 4321 };
  }
}

/** Answers with the scripted statuses in turn (null: connection refused), then repeats the last. */
class FakeProbe {
  urls: string[] = [];
  constructor(private readonly statuses: Array<number | null>) {}
  async get(url: string, _options: ProbeOptions): Promise<ProbeResult> {
    this.urls.push(url);
    const status = this.statuses.length > 1 ? this.statuses.shift()! : this.statuses[0];
    return status === null ? { status: null, error: 'ECONNREFUSED' } : { status };
  }
}

function setup(statuses: Array<number | null> = [200]) {
  const runtime = new FakeRuntime();
  const probe = new FakeProbe(statuses);
  const service = new TemplateService(
    runtime as unknown as WorkspaceRuntime,
    testOptions({ dataDir: '/tmp' }),
    probe as unknown as HttpProbe,
  );
  return { runtime, probe, service };
}

describe('TemplateService', () => {
  it('defines the baseline template and refuses unknown names', () => {
    const { service } = setup();
    expect(service.templateDefinition('baseline-landing')).toMatchObject({
      name: 'baseline-landing',
      containerPort: 4321,
    });
    expect(() => service.templateDefinition('nope')).toThrow(UnknownTemplateError);
  });

  it('copies the template into an empty workspace, skipping dependencies and the Dockerfile', async () => {
    const { runtime, service, probe } = setup([null, null, 200]);
    runtime.files.clear();
    const result = await service.initializeWorkspace('ws-1', 'baseline-landing', { probeIntervalMs: 1 });
    expect(result.installed).toBe(false);
    expect(runtime.files.get('src/pages/index.astro')?.toString()).toBe(
      await readFile(join(TEMPLATE_DIR, 'src/pages/index.astro'), 'utf8'),
    );
    expect(
      [...runtime.files.keys()].some(
        (path) => path.startsWith('node_modules') || path === 'Dockerfile' || path.startsWith('.astro'),
      ),
    ).toBe(false);
    expect(probe.urls).toEqual(['http://10.0.0.9:4321/', 'http://10.0.0.9:4321/', 'http://10.0.0.9:4321/']);
  });

  it('leaves a workspace with files alone and installs only when node_modules is missing', async () => {
    const { runtime, service } = setup();
    runtime.files.set('package.json', Buffer.from('{}'));
    runtime.nodeModules = false;
    const result = await service.initializeWorkspace('ws-1', 'baseline-landing');
    expect(result.installed).toBe(true);
    expect(runtime.execs).toEqual([['npm', 'install', '--no-audit', '--no-fund']]);
    expect([...runtime.files.keys()]).toEqual(['package.json']);
  });

  it('reports a failed install, a dead dev server and a silent one, each clearly', async () => {
    const failing = setup();
    failing.runtime.files.set('package.json', Buffer.from('{}'));
    failing.runtime.nodeModules = false;
    failing.runtime.execResult = { exitCode: 1, stdout: '', stderr: 'npm ERR! network' };
    await expect(failing.service.initializeWorkspace('ws-1', 'baseline-landing')).rejects.toMatchObject({
      reason: 'install-failed',
      message: expect.stringMatching(/npm install .* failed with exit code 1: npm ERR! network/),
    });

    const dead = setup([null]);
    dead.runtime.files.set('package.json', Buffer.from('{}'));
    dead.runtime.state = 'exited';
    await expect(dead.service.initializeWorkspace('ws-1', 'baseline-landing')).rejects.toMatchObject({
      reason: 'exited',
      message: expect.stringContaining('[ERROR] boom'),
    });

    const silent = setup([500]);
    silent.runtime.files.set('package.json', Buffer.from('{}'));
    const error = await silent.service
      .initializeWorkspace('ws-1', 'baseline-landing', { timeoutMs: 300, probeIntervalMs: 20 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkspaceInitError);
    expect((error as WorkspaceInitError).message).toMatch(
      /did not answer HTTP 200 within 300 ms \(last: HTTP 500\)/,
    );

    await expect(silent.service.initializeWorkspace('ws-1', 'nope')).rejects.toBeInstanceOf(
      UnknownTemplateError,
    );
  });
});

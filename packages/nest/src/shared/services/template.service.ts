import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable } from '@nestjs/common';
import { DEFAULT_TEMPLATE_NAME, type TemplateDefinition, type TemplateInitResult } from '@builder/shared';
import { DEFAULT_CONTAINER_PORT } from '../runtime/dev-server.constants';
import { HttpProbe } from '../runtime/http-probe.service';
import { RUNTIME_OPTIONS, type RuntimeOptions } from '../runtime/runtime-options';
import { UnknownTemplateError, WorkspaceFileError, WorkspaceInitError } from '../runtime/runtime.errors';
import { isIgnoredWorkspacePath } from '../runtime/workspace-path.util';
import {
  WORKSPACE_RUNTIME,
  type WorkspaceFileContent,
  type WorkspaceRuntime,
} from '../runtime/workspace-runtime.interface';

export interface InitializeWorkspaceOptions {
  /** Bound of the whole initialization (default: the runtime's `startTimeoutMs`). */
  timeoutMs?: number;
  /** Pause between two readiness probes. */
  probeIntervalMs?: number;
  /** Told when a slow step begins, for the build-status stream. */
  onStep?: (step: 'copying' | 'installing' | 'waiting', message: string) => void;
}

interface TemplateSource {
  /** Host folder of the template's sources (copied into an empty workspace). */
  dir: string;
  image: string;
}

/** Files of a template folder that are not workspace files. */
const SKIPPED_TEMPLATE_FILES: ReadonlySet<string> = new Set(['Dockerfile', 'dist']);
const PROBE_INTERVAL_MS = 75;
/** How often the readiness wait asks the runtime whether the dev server died. */
const STATE_CHECK_INTERVAL_MS = 1_000;
const NPM_INSTALL = ['npm', 'install', '--no-audit', '--no-fund'];

/**
 * Makes a created and started workspace usable: the template's files are in it, its dependencies
 * are installed, and its dev server answers. Speaks only through the {@link WorkspaceRuntime}, so it
 * works the same on `docker` and `local`.
 */
@Injectable()
export class TemplateService {
  private readonly templates: ReadonlyMap<string, TemplateSource>;
  private readonly contents = new Map<string, Promise<WorkspaceFileContent[]>>();

  constructor(
    @Inject(WORKSPACE_RUNTIME) private readonly runtime: WorkspaceRuntime,
    @Inject(RUNTIME_OPTIONS) private readonly options: RuntimeOptions,
    private readonly probe: HttpProbe,
  ) {
    this.templates = new Map([
      [DEFAULT_TEMPLATE_NAME, { dir: options.templateDir, image: options.templateImage }],
    ]);
  }

  templateNames(): string[] {
    return [...this.templates.keys()];
  }

  /** The template's definition; an unknown name throws {@link UnknownTemplateError} (a 400 for the API). */
  templateDefinition(name: string): TemplateDefinition {
    const template = this.templates.get(name);
    if (!template) throw new UnknownTemplateError(name, this.templateNames());
    return {
      name,
      image: template.image,
      containerPort: DEFAULT_CONTAINER_PORT,
      devCommand: [
        'node',
        'node_modules/astro/astro.js',
        'dev',
        '--host',
        '0.0.0.0',
        '--port',
        String(DEFAULT_CONTAINER_PORT),
      ],
    };
  }

  /**
   * The files a fresh workspace of the template holds (without dependencies and caches): a new
   * project's first version. Read once per process; the template image is built from these sources.
   */
  templateContents(name: string): Promise<WorkspaceFileContent[]> {
    const template = this.templates.get(name);
    if (!template) throw new UnknownTemplateError(name, this.templateNames());
    let contents = this.contents.get(name);
    if (!contents) {
      contents = templateFiles(template.dir).then((paths) =>
        Promise.all(paths.map(async (path) => ({ path, content: await readFile(join(template.dir, path)) }))),
      );
      contents.catch(() => this.contents.delete(name));
      this.contents.set(name, contents);
    }
    return contents;
  }

  /**
   * `id` is the runtime's workspace id. Files are written only into an empty workspace, `npm install`
   * runs only when node_modules is missing, then the dev server is probed until it answers 200.
   * Throws {@link WorkspaceInitError} when the install fails, the dev server exits, or the bound passes.
   */
  async initializeWorkspace(
    id: string,
    templateName: string,
    options: InitializeWorkspaceOptions = {},
  ): Promise<TemplateInitResult> {
    const startedAt = Date.now();
    const timeoutMs = options.timeoutMs ?? this.options.startTimeoutMs;
    const deadline = startedAt + timeoutMs;
    const template = this.templates.get(templateName);
    if (!template) throw new UnknownTemplateError(templateName, this.templateNames());

    const [files, hasDependencies] = await Promise.all([this.runtime.listFiles(id), this.hasNodeModules(id)]);
    if (!files.some((entry) => entry.type === 'file')) {
      options.onStep?.('copying', `copying the ${templateName} template`);
      await this.copyTemplate(id, template.dir);
    }

    let installed = false;
    if (!hasDependencies) {
      options.onStep?.('installing', 'installing dependencies (npm install)');
      const result = await this.runtime.exec(id, NPM_INSTALL, {
        timeoutMs: Math.max(1, deadline - Date.now()),
      });
      if (result.exitCode !== 0) {
        throw new WorkspaceInitError(
          `npm install in workspace ${id} failed with exit code ${result.exitCode}: ${tail(result.stderr || result.stdout)}`,
          'install-failed',
        );
      }
      installed = true;
    }

    options.onStep?.('waiting', 'waiting for the dev server');
    await this.waitForDevServer(id, deadline, timeoutMs, options.probeIntervalMs ?? PROBE_INTERVAL_MS);
    return { installed, readyAfterMs: Date.now() - startedAt };
  }

  /** Present (a folder or a symlink to one) reads as "not a file"; missing as "not found". */
  private async hasNodeModules(id: string): Promise<boolean> {
    try {
      await this.runtime.readFile(id, 'node_modules');
      return true; // a file named node_modules: let npm sort it out
    } catch (error) {
      if (error instanceof WorkspaceFileError) return error.reason !== 'not-found';
      throw error;
    }
  }

  private async copyTemplate(id: string, templateDir: string): Promise<void> {
    for (const path of await templateFiles(templateDir)) {
      await this.runtime.writeFile(id, path, await readFile(join(templateDir, path)));
    }
  }

  private async waitForDevServer(
    id: string,
    deadline: number,
    timeoutMs: number,
    intervalMs: number,
  ): Promise<void> {
    let lastReason = 'not probed yet';
    let nextStateCheck = 0;
    let url: string | null = null;
    while (Date.now() < deadline) {
      if (Date.now() >= nextStateCheck) {
        nextStateCheck = Date.now() + STATE_CHECK_INTERVAL_MS;
        const info = await this.runtime.inspect(id);
        if (info.state === 'exited' || info.state === 'dead') {
          const logs = await this.runtime.logs(id, { tail: 20 }).catch(() => []);
          throw new WorkspaceInitError(
            `the dev server of workspace ${id} exited with code ${info.exitCode ?? 'unknown'}${info.oomKilled ? ' (out of memory)' : ''}: ${logs.join('\n')}`,
            'exited',
          );
        }
      }
      if (!url) {
        try {
          const address = await this.runtime.address(id);
          url = `http://${address.host}:${address.port}/`;
        } catch (error) {
          lastReason = error instanceof Error ? error.message : String(error);
        }
      }
      if (url) {
        // A connection the server accepted waits for the first render (seconds under a CPU quota).
        const result = await this.probe.get(url, {
          timeoutMs: Math.max(1, Math.min(deadline - Date.now(), 15_000)),
        });
        if (result.status === 200) return;
        lastReason = result.status === null ? (result.error ?? 'no answer') : `HTTP ${result.status}`;
      }
      await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
    }
    throw new WorkspaceInitError(
      `the dev server of workspace ${id} did not answer HTTP 200 within ${timeoutMs} ms (last: ${lastReason})`,
      'not-ready',
    );
  }
}

/** Relative paths of a template's files, without dependencies, build output and the Dockerfile. */
async function templateFiles(root: string): Promise<string[]> {
  const files: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const absolute = join(dir, entry.name);
      const path = relative(root, absolute).split('\\').join('/');
      if (isIgnoredWorkspacePath(path) || SKIPPED_TEMPLATE_FILES.has(path)) continue;
      if (entry.isDirectory()) await walk(absolute);
      else if (entry.isFile()) files.push(path);
    }
  };
  await walk(root);
  return files.sort();
}

function tail(text: string, max = 2_000): string {
  return text.length > max ? `…${text.slice(-max)}` : text;
}

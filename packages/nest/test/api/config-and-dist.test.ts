import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigValidationError, loadConfig } from '../../src/config/app-config';
import { createApp } from '../../src/main';
import { cleanUp } from '../../../../tests/support/clean-up';
import { type Service, startService } from '../../../../tests/support/processes';
import { compileBackend } from '../support/compile-backend';

const NEST_DIR = resolve(__dirname, '../..');

describe('configuration', () => {
  const valid = { NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(40) };

  it.each([
    ['PORT', { PORT: 'abc' }],
    ['PORT_RANGE_END', { PORT_RANGE_START: '8100', PORT_RANGE_END: '8000' }],
    ['RUNTIME', { RUNTIME: 'kubernetes' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://root@localhost/db' }],
    ['JWT_SECRET', { NODE_ENV: 'production', JWT_SECRET: undefined }],
    ['JWT_SECRET', { JWT_SECRET: 'short' }],
    ['WORKSPACE_CPU_CORES', { WORKSPACE_CPU_CORES: '-1' }],
    ['START_CONCURRENCY', { START_CONCURRENCY: '0' }],
    ['ACTIVITY_WRITE_INTERVAL_MS', { ACTIVITY_WRITE_INTERVAL_MS: '-5' }],
    ['PREVIEW_MODE', { PREVIEW_MODE: 'tunnel' }],
    ['MAX_FILE_BYTES', { MAX_FILE_BYTES: 'lots' }],
    ['WORKSPACE_STORAGE_LIMIT_MB', { WORKSPACE_STORAGE_LIMIT_MB: '1' }],
    ['WORKSPACE_STORAGE_HARD_LIMIT', { WORKSPACE_STORAGE_HARD_LIMIT: 'quota' }],
    ['WEB_ORIGIN', { WEB_ORIGIN: 'localhost:3001' }],
  ])('a bad %s stops start-up with a message naming it', (name, overrides) => {
    let error: unknown;
    try {
      loadConfig({ ...valid, ...overrides });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigValidationError);
    expect((error as Error).message).toContain(`${name}:`);
    expect((error as Error).message).not.toContain('x'.repeat(40));
  });

  const dataDirs: string[] = [];
  const freshDataDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    dataDirs.push(dir);
    return dir;
  };
  afterAll(() => {
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  });

  it('defaults match the plan', () => {
    const config = loadConfig({ ...valid, DATABASE_URL: undefined, DATA_DIR: freshDataDir() });
    expect(config.port).toBe(3000);
    expect(config.webOrigins).toEqual(['http://localhost:3001']);
    expect(config.ports).toEqual({ start: 8000, end: 8100 });
    expect(config.database.kind).toBe('embedded');
    expect(config.runtime.templateImage).toBe('localhost:5000/baseline-landing-template:latest');
    expect(config.runtime.templateDir).toBe(resolve(NEST_DIR, '../../workspace-templates/baseline-landing'));
    expect(config.resources).toMatchObject({ memoryBytes: 512 * 1024 * 1024, cpuShares: 512, cpuCores: 0.5, storageBytes: 1024 * 1024 * 1024 });
    expect(config.runtime.storageHardLimit).toBe('auto');
    expect(config.sessions).toMatchObject({ maxPerUser: 3, ttlMinutes: 120, idleTimeoutMinutes: 30 });
    // Previews are session-checked unless direct mode is asked for.
    expect(config.preview).toMatchObject({ mode: 'proxy', host: 'localhost' });
    expect(config.files.maxBytes).toBe(1024 * 1024);
  });

  it('a development backend without JWT_SECRET generates one and keeps it', () => {
    const dataDir = freshDataDir();
    const first = loadConfig({ NODE_ENV: 'development', DATA_DIR: dataDir });
    const second = loadConfig({ NODE_ENV: 'development', DATA_DIR: dataDir });
    expect(first.jwt.secretSource).toBe('generated');
    expect(second.jwt).toMatchObject({ secretSource: 'file', secret: first.jwt.secret });
    expect(first.warnings.join()).toMatch(/JWT_SECRET is not set/);
  });

  it('createApp refuses a bad environment before starting anything', async () => {
    await expect(createApp({ env: { ...valid, PORT_RANGE_START: '80' } })).rejects.toThrow(
      /PORT_RANGE_START:/,
    );
  });
});

describe('the compiled backend (node dist/main.js)', () => {
  const outDir = join(NEST_DIR, 'test-artifacts', `dist-${process.pid}`);
  const dataDir = mkdtempSync(join(tmpdir(), 'builder-dist-'));
  const backends: Service[] = [];

  beforeAll(async () => {
    await compileBackend(outDir);
  }, 180_000);

  // A backend a failed test left running is stopped (SIGKILL after 15 s) before its folders go.
  afterAll(() =>
    cleanUp([
      ...backends.map((backend) => () => backend.stop()),
      () => rmSync(outDir, { recursive: true, force: true }),
      () => rmSync(dataDir, { recursive: true, force: true }),
    ]),
  );

  function startBackend(env: Record<string, string>): Service {
    for (const key of ['PATH', 'HOME', 'LANG']) if (process.env[key]) env[key] ??= process.env[key]!;
    const backend = startService('backend', process.execPath, [join(outDir, 'main.js')], { cwd: NEST_DIR, env });
    backends.push(backend);
    return backend;
  }

  it('exits with code 1 and names the variable when the environment is bad', async () => {
    const backend = startBackend({ PORT: 'not-a-port', DATA_DIR: dataDir });
    const { code } = await backend.exited;
    expect(code).toBe(1);
    expect(backend.output()).toContain('PORT:');
  });

  it('boots on the embedded database (worker loaded from dist), serves the API and shuts down cleanly', async () => {
    const port = await freePort();
    const backend = startBackend({ PORT: String(port), DATA_DIR: dataDir, RUNTIME: 'local', LOG_LEVEL: 'info' });
    try {
      const deadline = Date.now() + 60_000;
      let docs: Response | null = null;
      while (!docs && Date.now() < deadline) {
        docs = await fetch(`http://127.0.0.1:${port}/api/docs-json`).catch(() => null);
        if (!docs) await new Promise((r) => setTimeout(r, 200));
      }
      expect(docs?.status, backend.output()).toBe(200);
      const spec = (await docs!.json()) as {
        paths: Record<string, Record<string, { requestBody?: unknown; parameters?: Array<{ name: string }> }>>;
      };
      expect(Object.keys(spec.paths)).toEqual(
        expect.arrayContaining([
          '/api/v1/auth/register',
          '/api/v1/workspace/create',
          '/api/v1/workspace/{id}/status',
          '/api/v1/workspace/{id}/edits',
          '/api/v1/workspace/{id}/files/move',
          '/api/v1/workspace/{id}/logs',
        ]),
      );
      expect(spec.paths['/api/v1/workspace/{id}/edits'].post.requestBody).toBeDefined();
      expect(spec.paths['/api/v1/workspace/{id}/files/{path}'].put.parameters?.map((p) => p.name)).toContain(
        'verify',
      );
      const ui = await fetch(`http://127.0.0.1:${port}/api/docs`);
      expect(ui.status).toBe(200);
      expect(ui.headers.get('content-type')).toMatch(/text\/html/);
      const registered = await fetch(`http://127.0.0.1:${port}/api/v1/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: 'http://localhost:3001' },
        body: JSON.stringify({ email: 'dist@example.com', password: 'correct horse' }),
      });
      expect(registered.status).toBe(201);
      expect(registered.headers.get('access-control-allow-origin')).toBe('http://localhost:3001');
      // The web app renames projects (PATCH) and names downloaded exports from Content-Disposition.
      expect(registered.headers.get('access-control-expose-headers')).toMatch(/content-disposition/i);
      const preflight = await fetch(
        `http://127.0.0.1:${port}/api/v1/projects/00000000-0000-0000-0000-000000000000`,
        {
          method: 'OPTIONS',
          headers: {
            origin: 'http://localhost:3001',
            'access-control-request-method': 'PATCH',
            'access-control-request-headers': 'authorization,content-type',
          },
        },
      );
      expect(preflight.status).toBeLessThan(300);
      expect(preflight.headers.get('access-control-allow-methods')).toMatch(/\bPATCH\b/);
      expect(existsSync(join(dataDir, 'pglite.lock'))).toBe(true);
      expect(backend.output()).toMatch(/"msg":"API listening"/);
    } finally {
      // A clean shutdown is what is tested: time enough for it on a loaded machine before SIGKILL.
      await backend.stop(60_000);
    }
    // Nest runs the shutdown hooks, then re-raises the signal: exit by SIGTERM (or 0) after them.
    const exit = await backend.exited;
    expect([0, 'SIGTERM'], backend.output()).toContain(exit.code ?? exit.signal);
    expect(backend.output()).toMatch(/embedded database stopped/);
    expect(existsSync(join(dataDir, 'pglite.lock'))).toBe(false);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

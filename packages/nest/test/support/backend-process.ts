import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { cleanUp } from '../../../../tests/support/clean-up';
import { freePort } from '../../../../tests/support/http';
import { compileBackend } from './compile-backend';
import { DOCKER_SOCKET, TEMPLATE_IMAGE, removeLeftovers } from './docker';
import { createTestDatabase, type TestDatabase } from './test-database';
import { ApiClient, eventually, TEST_OBJECT_STORE_DIR } from './test-app';

/** A compiled backend running as its own process (see compileBackend), so a test can kill -9 it. */
export interface BackendProcess {
  child: ChildProcess;
  api: ApiClient;
  port: number;
  output(): string;
}

/**
 * Starts `<outDir>/main.js` with the Docker runtime on `databaseUrl` and `env` on top, on a free
 * port of `apiPorts` (default 3400-3499), and waits for /health. Every child goes into `children`,
 * for the suite's afterAll to SIGKILL whatever is still running.
 */
export async function startBackendProcess(
  outDir: string,
  databaseUrl: string,
  env: Record<string, string>,
  children: ChildProcess[],
  apiPorts: [number, number] = [3400, 3499],
): Promise<BackendProcess> {
  const port = await freePort(apiPorts[0], apiPorts[1]);
  const child = spawn(process.execPath, [join(outDir, 'main.js')], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      PORT: String(port),
      JWT_SECRET: 'test-secret-test-secret-test-secret-0123456789',
      DATABASE_URL: databaseUrl,
      RUNTIME: 'docker',
      DOCKER_SOCKET,
      TEMPLATE_IMAGE,
      PREVIEW_HOST: '127.0.0.1',
      // The test file's own blob store, shared by every backend of the file (see test-app.ts).
      OBJECT_STORE_DIR: TEST_OBJECT_STORE_DIR,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const up = await eventually(async () => (await fetch(`http://127.0.0.1:${port}/health`)).ok, 30_000, 200);
  if (!up) throw new Error(`backend did not start: ${output}`);
  return { child, api: new ApiClient(`http://127.0.0.1:${port}`), port, output: () => output };
}

/** Backends of a suite that kills and restarts them, on one database of its own. */
export interface BackendProcesses {
  /** Readable once the suite's beforeAll has run. */
  readonly db: TestDatabase;
  /** Sessions the suite created: what they leave in the engine and on the host is removed after it. */
  sessionIds: Set<string>;
  /** Starts a backend with the suite's `env` and `overrides` on top. */
  start(overrides?: Record<string, string>): Promise<BackendProcess>;
}

/**
 * Registers the suite's hooks: beforeAll creates the database and compiles the backend into a
 * folder of the suite's own; afterAll SIGKILLs every backend still running, removes the sessions'
 * leftovers, drops the database and the folder. Call it inside the suite's `describe`.
 */
export function useBackendProcesses(
  name: string,
  env: Record<string, string>,
  apiPorts?: [number, number],
): BackendProcesses {
  const outDir = join(resolve(__dirname, '../..'), 'test-artifacts', `dist-${name}-${process.pid}`);
  const children: ChildProcess[] = [];
  const sessionIds = new Set<string>();
  let db: TestDatabase | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
    await compileBackend(outDir);
  }, 180_000);

  afterAll(() =>
    cleanUp([
      () => {
        for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      },
      async () => {
        // Sessions of a create whose answer never came (its backend was killed) are in the database.
        for (const row of (await db?.query<{ id: string }>('SELECT id FROM workspace_sessions')) ?? []) sessionIds.add(row.id);
      },
      () => removeLeftovers(sessionIds),
      () => db?.drop(),
      () => rmSync(outDir, { recursive: true, force: true }),
    ]),
  );

  return {
    get db() {
      if (!db) throw new Error('useBackendProcesses: read before its beforeAll ran');
      return db;
    },
    sessionIds,
    start: (overrides = {}) =>
      startBackendProcess(outDir, (db as TestDatabase).url, { ...env, ...overrides }, children, apiPorts),
  };
}

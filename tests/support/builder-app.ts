import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { WORKSPACE_LABELS } from '../../packages/nest/src/shared/runtime/workspace-runtime.interface';
import { createTestDatabase, type TestDatabase } from '../../packages/nest/test/support/test-database';
import { cleanUp } from './clean-up';
import { removeLabelled, requireDocker } from './docker';
import { waitFor } from './http';
import { releaseLoopDevicesUnder } from './loop-devices';
import { type Service, startService } from './processes';

export const ROOT = join(__dirname, '../..');
/** The ports `npm start` uses; the web app's build expects the API on :3000. */
export const API_URL = 'http://localhost:3000';
export const WEB_URL = 'http://localhost:3001';

/** The whole product as `npm start` runs it, for a browser to drive. */
export interface BuilderApp {
  /** False when the suite skips (no Docker engine outside CI). */
  readonly enabled: boolean;
  /** The value of the deployment label on every container and volume this API creates. */
  readonly deploymentId: string;
  /** The API's DATA_DIR (its database is PostgreSQL; workspace file system images live here). */
  readonly dataDir: string;
  readonly api: Service;
  readonly web: Service;
}

/**
 * Registers the suite's hooks. beforeAll starts the built API (docker runtime, a database of its
 * own on the local PostgreSQL, `previewPorts`, a deployment label of its own) and the built web
 * app. afterAll stops both, then removes every container and volume carrying that deployment
 * label, the database and the data folder: each step also when one before it failed, and for
 * whatever beforeAll got to make before it failed.
 */
export function useBuilderApp(options: { suite: string; previewPorts: [number, number] }): BuilderApp {
  let enabled = false;
  let api: Service | undefined;
  let web: Service | undefined;
  const deploymentId = `e2e-${process.pid}-${randomBytes(4).toString('hex')}`;
  let db: TestDatabase | undefined;
  let dataDir = '';

  beforeAll(async () => {
    enabled = await requireDocker(options.suite);
    if (!enabled) return;
    for (const [name, url] of [['API', API_URL], ['web app', WEB_URL]]) {
      if (!(await portIsFree(url))) throw new Error(`${name} port of ${url} is in use: stop \`npm start\` before the tests`);
    }
    for (const path of ['packages/nest/dist/main.js', 'packages/frontend/.next/BUILD_ID']) {
      if (!existsSync(join(ROOT, path))) throw new Error(`${path} is missing: run the builds first (npm test does)`);
    }
    dataDir = mkdtempSync(join(tmpdir(), 'builder-e2e-'));
    db = await createTestDatabase();
    // The product's default preview mode (the proxy), whatever the caller's environment says.
    const { PREVIEW_MODE: _ignored, ...inherited } = process.env;
    api = startService('api', process.execPath, ['dist/main.js'], {
      cwd: join(ROOT, 'packages/nest'),
      env: {
        ...inherited,
        NODE_ENV: 'test',
        PORT: '3000',
        RUNTIME: 'docker',
        DATA_DIR: dataDir,
        DATABASE_URL: db.url,
        DEPLOYMENT_ID: deploymentId,
        PORT_RANGE_START: String(options.previewPorts[0]),
        PORT_RANGE_END: String(options.previewPorts[1]),
        WEB_ORIGIN: WEB_URL,
        LOG_LEVEL: 'warn',
      },
    });
    web = startService('web', join(ROOT, 'node_modules/.bin/next'), ['start', '-p', '3001'], {
      cwd: join(ROOT, 'packages/frontend'),
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
    });
    await waitFor('the API', async () => ((await fetch(`${API_URL}/health`)).ok ? true : undefined), { timeoutMs: 60_000 }).catch(
      (error: Error) => {
        throw new Error(`${error.message}\n${api?.output()}`);
      },
    );
    await waitFor('the web app', async () => ((await fetch(`${WEB_URL}/login`)).ok ? true : undefined), { timeoutMs: 60_000 });
  });

  afterAll(() =>
    cleanUp([
      () => web?.stop(),
      () => api?.stop(),
      () => enabled && removeLabelled(`${WORKSPACE_LABELS.deployment}=${deploymentId}`),
      // The workspaces' own file systems (the kernel-enforced storage limit), should any be left.
      () => dataDir && releaseLoopDevicesUnder(dataDir),
      () => db?.drop(),
      () => dataDir && rmSync(dataDir, { recursive: true, force: true }),
    ]),
  );

  const started = (service: Service | undefined): Service => {
    if (!service) throw new Error('useBuilderApp: read before its beforeAll started the app');
    return service;
  };
  return {
    get enabled() {
      return enabled;
    },
    deploymentId,
    get dataDir() {
      return dataDir;
    },
    get api() {
      return started(api);
    },
    get web() {
      return started(web);
    },
  };
}

async function portIsFree(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(1_000) });
    return false;
  } catch {
    return true;
  }
}

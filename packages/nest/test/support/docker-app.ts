import { afterAll, beforeAll, expect } from 'vitest';
import { cleanUp } from '../../../../tests/support/clean-up';
import { DOCKER_SOCKET, TEMPLATE_IMAGE, removeDeployment, removeLeftovers } from './docker';
import { createTestDatabase, type TestDatabase } from './test-database';
import { startTestApp, type TestApp, type TestUser } from './test-app';

type Env = Record<string, string | undefined>;

/**
 * The app of a Docker suite: a TestApp on its own fresh database and the Docker runtime. Its fields
 * can be read once the suite's beforeAll has run.
 */
export interface DockerTestApp extends TestApp {
  db: TestDatabase;
  /** Sessions the suite created: what they leave in the engine is removed after the suite. */
  sessionIds: Set<string>;
  /** Another app on the same database and environment, plus `overrides`; closed after the suite. */
  startApp(overrides?: Env): Promise<TestApp>;
  /** A new user with a session created and running (both steps asserted), tracked in sessionIds. */
  runningSession(prefix: string): Promise<TestUser & { session: any }>;
}

/**
 * Registers the suite's hooks: beforeAll creates the database and starts the app with the Docker
 * runtime and `env` (the file's PORT_RANGE and overrides); afterAll closes every app it started,
 * removes the sessions' leftovers and drops the database, each step also when one before it
 * throws. The apps label what they create with the database's name as their deployment, so the
 * leftovers of sessions the test never saw an id of go too. Call it inside the suite's `describe`.
 * Hooks a file registers after this call run after its beforeAll and before its afterAll.
 */
export function useDockerApp(env: Env): DockerTestApp {
  let db: TestDatabase | undefined;
  let main: TestApp | undefined;
  const started: TestApp[] = [];
  const sessionIds = new Set<string>();

  function ready<T>(value: T | undefined): T {
    if (value === undefined) throw new Error('useDockerApp: read before its beforeAll ran');
    return value;
  }

  async function startApp(overrides: Env = {}): Promise<TestApp> {
    const app = await startTestApp({
      DATABASE_URL: ready(db).url,
      RUNTIME: 'docker',
      DOCKER_SOCKET,
      TEMPLATE_IMAGE,
      DEPLOYMENT_ID: ready(db).name,
      ...env,
      ...overrides,
    });
    started.push(app);
    return app;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    main = await startApp();
  });

  afterAll(() =>
    cleanUp([
      ...started.map((app) => () => app.close()),
      () => removeLeftovers(sessionIds),
      () => db && removeDeployment(db.name),
      () => db?.drop(),
    ]),
  );

  return {
    get db() {
      return ready(db);
    },
    get app() {
      return ready(main).app;
    },
    get baseUrl() {
      return ready(main).baseUrl;
    },
    get api() {
      return ready(main).api;
    },
    close: () => ready(main).close(),
    sessionIds,
    startApp,
    async runningSession(prefix) {
      const api = ready(main).api;
      const user = await api.newUser(prefix);
      const created = await api.request('POST', '/workspace/create', { token: user.token, body: {} });
      sessionIds.add(created.body.id);
      expect(created.status).toBe(201);
      const session = await api.waitForSettled(user.token, created.body.id);
      expect(session.status).toBe('running');
      return { ...user, session };
    },
  };
}

import { createServer, type Server } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCKER_SOCKET, leftoversOf, removeLeftovers, requireDocker } from '../support/docker';
import { cleanUp } from '../../../../tests/support/clean-up';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { startTestApp, type TestApp } from '../support/test-app';

// Ports of this file: 8015-8019.
const dockerReady = requireDocker('workspace-failures');

let db: TestDatabase;
let dataDir: string;
beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = mkdtempSync(join(tmpdir(), 'builder-failures-'));
});
afterAll(() => cleanUp([() => db?.drop(), () => dataDir && rmSync(dataDir, { recursive: true, force: true })]));

describe('the Docker daemon unreachable', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      DATABASE_URL: db.url,
      DATA_DIR: dataDir,
      RUNTIME: 'docker',
      DOCKER_SOCKET: join(dataDir, 'no-such-docker.sock'),
      PORT_RANGE_START: '8015',
      PORT_RANGE_END: '8016',
    });
  });
  afterAll(() => t?.close());

  it('create answers 503 with a message and leaves no record in creating', async () => {
    const user = await t.api.newUser('nodocker');
    const response = await t.api.request('POST', '/workspace/create', { token: user.token });
    expect(response.status).toBe(503);
    expect(response.body).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
    expect(response.body.message).toMatch(/docker|engine|daemon/i);
    const rows = await db.query(`SELECT status FROM workspace_sessions WHERE user_id = $1`, [user.userId]);
    expect(rows).toEqual([]);
    const list = await t.api.request('GET', '/workspace', { token: user.token });
    expect(list.body).toEqual([]);
  });
});

describe('port allocation', () => {
  let t: TestApp;
  let blocker: Server;
  beforeAll(async () => {
    // Another program holds 8015: it must be skipped, not fatal.
    blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(8015, '127.0.0.1', resolve));
    t = await startTestApp({
      DATABASE_URL: db.url,
      DATA_DIR: dataDir,
      RUNTIME: 'local',
      PORT_RANGE_START: '8015',
      PORT_RANGE_END: '8016',
    });
  });
  afterAll(() => cleanUp([() => t?.close(), () => new Promise((resolve) => blocker?.close(resolve))]));

  it('skips a port another program holds, answers 503 when none is left, and reuses a released port', async () => {
    const first = await t.api.newUser('ports-a');
    const second = await t.api.newUser('ports-b');
    const a = await t.api.request('POST', '/workspace/create', { token: first.token });
    expect(a.status).toBe(201);
    expect(a.body.port).toBe(8016);

    const b = await t.api.request('POST', '/workspace/create', { token: second.token });
    expect(b.status).toBe(503);
    expect(b.body.message).toMatch(/no preview port free in 8015-8016/);
    const bRows = await db.query(`SELECT 1 FROM workspace_sessions WHERE user_id = $1`, [second.userId]);
    expect(bRows).toEqual([]);

    expect((await t.api.request('DELETE', `/workspace/${a.body.id}`, { token: first.token })).status).toBe(
      204,
    );
    const c = await t.api.request('POST', '/workspace/create', { token: second.token });
    expect(c.status).toBe(201);
    expect(c.body.port).toBe(8016);
    expect((await t.api.request('DELETE', `/workspace/${c.body.id}`, { token: second.token })).status).toBe(
      204,
    );
  });
});

describe.skipIf(!dockerReady)('an image that cannot be pulled', () => {
  let t: TestApp;
  const sessionIds: string[] = [];
  beforeAll(async () => {
    t = await startTestApp({
      DATABASE_URL: db.url,
      DATA_DIR: dataDir,
      RUNTIME: 'docker',
      DOCKER_SOCKET,
      TEMPLATE_IMAGE: '127.0.0.1:1/builder-missing-image:latest',
      PORT_RANGE_START: '8017',
      PORT_RANGE_END: '8019',
    });
  });
  afterAll(() => cleanUp([() => t?.close(), () => removeLeftovers(sessionIds)]));

  it('ends in status error with a clear message, nothing left and the port released', async () => {
    const user = await t.api.newUser('noimage');
    const created = await t.api.request('POST', '/workspace/create', { token: user.token });
    sessionIds.push(created.body.id);
    expect(created.status).toBe(201);
    const settled = await t.api.waitForSettled(user.token, created.body.id, 60_000);
    expect(settled.status).toBe('error');
    expect(settled.buildStep).toBe('error');
    expect(settled.errorMessage).toMatch(/builder-missing-image/);
    expect(settled.port).toBeNull();
    const active = await db.query(
      `SELECT 1 FROM workspace_sessions WHERE id = $1 AND status IN ('creating', 'running')`,
      [created.body.id],
    );
    expect(active).toEqual([]);
    expect(await leftoversOf(sessionIds)).toEqual({ containers: [], volumes: [] });

    // An ended session does not count against the quota and can be deleted (idempotent).
    expect(
      (await t.api.request('DELETE', `/workspace/${created.body.id}`, { token: user.token })).status,
    ).toBe(204);
    expect(
      (await t.api.request('DELETE', `/workspace/${created.body.id}`, { token: user.token })).status,
    ).toBe(204);
  });
});

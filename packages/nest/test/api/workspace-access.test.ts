import { request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JwtService } from '@nestjs/jwt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanUp } from '../../../../tests/support/clean-up';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { eventually, startTestApp, type TestApp } from '../support/test-app';

// Ports of this file: 8010-8014.
const PORT_RANGE = { PORT_RANGE_START: '8010', PORT_RANGE_END: '8014' };
const MAX_FILE_BYTES = 64 * 1024;
const JWT_SECRET = 'access-test-secret-access-test-secret-0123456789';
const PAGE = 'src/pages/index.astro';

/** A request whose path goes on the wire exactly as written (fetch would normalize `..`). */
function rawRequest(
  baseUrl: string,
  method: string,
  path: string,
  token: string,
  body?: string,
): Promise<{ status: number; body: any }> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
          } catch {
            resolve({ status: res.statusCode ?? 0, body: text });
          }
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function expectErrorShape(response: { status: number; body: any }, status: number | number[]): void {
  const statuses = Array.isArray(status) ? status : [status];
  expect(statuses, JSON.stringify(response.body)).toContain(response.status);
  expect(response.body).toMatchObject({
    statusCode: response.status,
    error: expect.any(String),
    path: expect.any(String),
  });
  expect(typeof response.body.message).toBe('string');
  expect(response.body.message.length).toBeGreaterThan(0);
  expect(typeof response.body.timestamp).toBe('string');
  expect(JSON.stringify(response.body)).not.toMatch(/\bat .+\.(ts|js):\d+/); // no stack trace
}

describe('workspace routes: authentication, ownership and bad input', () => {
  let db: TestDatabase;
  let dataDir: string;
  let t: TestApp;
  let owner: { token: string; userId: string };
  let intruder: { token: string; userId: string };
  let sessionId: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    dataDir = mkdtempSync(join(tmpdir(), 'builder-access-'));
    t = await startTestApp({
      DATABASE_URL: db.url,
      DATA_DIR: dataDir,
      RUNTIME: 'local',
      JWT_SECRET,
      MAX_FILE_BYTES: String(MAX_FILE_BYTES),
      MAX_SESSIONS_PER_USER: '1',
      // Every call writes its activity, so the test can see each one (the default throttles to 15 s).
      ACTIVITY_WRITE_INTERVAL_MS: '0',
      ...PORT_RANGE,
    });
    owner = await t.api.newUser('owner');
    intruder = await t.api.newUser('intruder');
    const created = await t.api.request('POST', '/workspace/create', { token: owner.token });
    expect(created.status).toBe(201);
    sessionId = created.body.id;
    const running = await t.api.waitForSettled(owner.token, sessionId);
    expect(running.status).toBe('running');
  });

  afterAll(() =>
    cleanUp([() => t?.close(), () => db?.drop(), () => dataDir && rmSync(dataDir, { recursive: true, force: true })]),
  );

  const routes = (id: string) =>
    [
      ['POST', '/workspace/create', {}],
      ['GET', '/workspace', undefined],
      ['GET', `/workspace/${id}/status`, undefined],
      ['DELETE', `/workspace/${id}`, undefined],
      ['POST', `/workspace/${id}/restart`, undefined],
      ['GET', `/workspace/${id}/files`, undefined],
      ['GET', `/workspace/${id}/files/${PAGE}`, undefined],
      ['PUT', `/workspace/${id}/files/${PAGE}`, { content: 'hacked' }],
      ['PUT', `/workspace/${id}/files/${PAGE}?verify=true`, { content: 'hacked' }],
      ['DELETE', `/workspace/${id}/files/${PAGE}`, undefined],
      ['POST', `/workspace/${id}/files/move`, { from: PAGE, to: 'src/pages/moved.astro' }],
      ['POST', `/workspace/${id}/edits`, { writes: [{ path: PAGE, content: 'hacked' }], deletes: [] }],
      ['GET', `/workspace/${id}/logs?tail=10`, undefined],
    ] as const;

  it('every route refuses a missing token and bad tokens with 401', async () => {
    const jwt = new JwtService();
    const badTokens = [
      null,
      'not-a-jwt',
      await jwt.signAsync({ sub: owner.userId }, { secret: 'some-other-secret-some-other-secret-0123' }),
      await jwt.signAsync(
        { sub: owner.userId, exp: Math.floor(Date.now() / 1000) - 60 },
        { secret: JWT_SECRET },
      ),
      await jwt.signAsync({ sub: 'not-a-uuid' }, { secret: JWT_SECRET }),
    ];
    for (const [method, path, body] of routes(sessionId)) {
      for (const token of badTokens) {
        const response = await t.api.request(method, path, { token, body });
        expectErrorShape(response, 401);
      }
      const basic = await t.api.request(method, path, {
        headers: { authorization: `Basic ${owner.token}` },
        body,
      });
      expectErrorShape(basic, 401);
    }
    const expired = await t.api.request('GET', '/workspace', { token: badTokens[3] });
    expect(expired.body.message).toMatch(/expired/);
  });

  it("every route answers 404 for another user's session, as for a missing one, and changes nothing", async () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    for (const [method, path, body] of routes(sessionId)) {
      if (!path.includes(sessionId)) continue;
      const foreign = await t.api.request(method, path, { token: intruder.token, body });
      expectErrorShape(foreign, 404);
      const absent = await t.api.request(method, path.replace(sessionId, missing), {
        token: intruder.token,
        body,
      });
      expectErrorShape(absent, 404);
      expect(foreign.body.message).toBe(absent.body.message.replace(missing, sessionId));
    }
    const list = await t.api.request('GET', '/workspace', { token: intruder.token });
    expect(list.body).toEqual([]);
    const status = await t.api.request('GET', `/workspace/${sessionId}/status`, { token: owner.token });
    expect(status.body.status).toBe('running');
    const page = await t.api.request('GET', `/workspace/${sessionId}/files/${PAGE}`, { token: owner.token });
    expect(page.body.content).not.toContain('hacked');
  });

  it('refuses non-UUID ids with 400', async () => {
    const cases = [
      ['GET', '/workspace/abc/status'],
      ['DELETE', '/workspace/abc'],
      ['POST', '/workspace/abc/restart'],
      ['GET', '/workspace/abc/files'],
      ['GET', '/workspace/1/files/x.txt'],
      ['PUT', '/workspace/1/files/x.txt'],
      ['DELETE', '/workspace/1/files/x.txt'],
      ['POST', '/workspace/1/edits'],
      ['GET', '/workspace/1/logs'],
      ['GET', `/workspace/${sessionId}x/status`],
    ] as const;
    for (const [method, path] of cases) {
      const response = await t.api.request(method, path, {
        token: owner.token,
        body: method === 'PUT' ? { content: 'x' } : undefined,
      });
      expectErrorShape(response, 400);
      expect(response.body.message).toMatch(/UUID/);
    }
  });

  it('refuses malformed JSON, unknown fields and wrong types with 400 and a message', async () => {
    const malformed = await t.api.request('POST', '/workspace/create', {
      token: owner.token,
      rawBody: '{"templateName": ',
    });
    expectErrorShape(malformed, 400);
    expect(malformed.body.message).toMatch(/not valid JSON/);
    const malformedPut = await t.api.request('PUT', `/workspace/${sessionId}/files/${PAGE}`, {
      token: owner.token,
      rawBody: '{content: x}',
    });
    expectErrorShape(malformedPut, 400);

    const unknown = await t.api.request('POST', '/workspace/create', {
      token: owner.token,
      body: { image: 'alpine' },
    });
    expectErrorShape(unknown, 400);
    expect(unknown.body.message).toMatch(/property image should not exist/);
    const unknownTemplate = await t.api.request('POST', '/workspace/create', {
      token: owner.token,
      body: { templateName: '../../etc' },
    });
    expectErrorShape(unknownTemplate, 400);

    for (const body of [
      { content: 42 },
      { content: null },
      { content: ['a'] },
      {},
      { content: 'x', mode: 'exec' },
    ]) {
      const response = await t.api.request('PUT', `/workspace/${sessionId}/files/notes.txt`, {
        token: owner.token,
        body,
      });
      expectErrorShape(response, 400);
    }
    const arrayBody = await t.api.request('PUT', `/workspace/${sessionId}/files/notes.txt`, {
      token: owner.token,
      rawBody: '["content"]',
    });
    expectErrorShape(arrayBody, 400);

    const register = await t.api.request('POST', '/auth/register', {
      body: { email: 'not-an-email', password: 'short' },
    });
    expectErrorShape(register, 400);
    expect(register.body.message).toMatch(/email/);
    expect(register.body.message).toMatch(/password/);
  });

  it('refuses paths that leave the workspace or touch node_modules/.git, for reads and writes', async () => {
    const base = `/api/v1/workspace/${sessionId}/files`;
    const body = JSON.stringify({ content: 'x' });
    const traversals = [
      '../../../../etc/passwd',
      'src/../../../etc/passwd',
      '%2e%2e/%2e%2e/etc/passwd',
      'src/%2E%2E/%2E%2E/%2E%2E/etc/passwd',
      '..%2F..%2Fetc%2Fpasswd',
      '%2Fetc%2Fpasswd',
      '/etc/passwd',
      'src%5C..%5C..%5Cx',
      'src/a%00b',
      'src/%0Aline',
      'src/%E0%A4%A',
    ];
    for (const path of traversals) {
      for (const method of ['GET', 'PUT', 'DELETE']) {
        const response = await rawRequest(
          t.baseUrl,
          method,
          `${base}/${path}`,
          owner.token,
          method === 'PUT' ? body : undefined,
        );
        expectErrorShape(response, 400);
        expect(response.body.message).toMatch(/invalid workspace path|decode/i);
      }
    }
    for (const path of [
      'node_modules/astro/package.json',
      'node_modules/.bin/x',
      'src/.git/config',
      '.git/hooks/pre-commit',
    ]) {
      for (const method of ['PUT', 'DELETE']) {
        const response = await rawRequest(
          t.baseUrl,
          method,
          `${base}/${path}`,
          owner.token,
          method === 'PUT' ? body : undefined,
        );
        expectErrorShape(response, 400);
        expect(response.body.message).toMatch(/node_modules|\.git/);
      }
    }
    // The same rules for the paths of a move and of an edit batch, each entry named.
    for (const [from, to] of [
      ['../../etc/passwd', 'src/stolen.txt'],
      [PAGE, '/etc/cron.d/evil'],
      [PAGE, 'node_modules/astro/evil.js'],
      ['node_modules/astro/package.json', 'src/x.json'],
    ]) {
      const response = await t.api.request('POST', `/workspace/${sessionId}/files/move`, {
        token: owner.token,
        body: { from, to },
      });
      expectErrorShape(response, 400);
      expect(response.body.message).toMatch(/^invalid workspace path: (from|to):/);
    }
    const batch = await t.api.request('POST', `/workspace/${sessionId}/edits`, {
      token: owner.token,
      body: { writes: [{ path: 'src/ok.txt', content: 'x' }], deletes: ['src/../../etc/passwd'] },
    });
    expectErrorShape(batch, 400);
    expect(batch.body.message).toMatch(/deletes\[0\]: ".." segments/);
  });

  it('refuses a symlink pointing out of the workspace', async () => {
    symlinkSync('/etc', join(dataDir, 'workspaces', sessionId, 'src', 'escape'));
    const read = await t.api.request('GET', `/workspace/${sessionId}/files/src/escape/hostname`, {
      token: owner.token,
    });
    expectErrorShape(read, [400, 404]);
    const write = await t.api.request('PUT', `/workspace/${sessionId}/files/src/escape/evil`, {
      token: owner.token,
      body: { content: 'x' },
    });
    expectErrorShape(write, [400, 404]);
    // Neither deleted nor moved through the link: what it leads to is not the workspace's.
    const removed = await t.api.request('DELETE', `/workspace/${sessionId}/files/src/escape/hostname`, {
      token: owner.token,
    });
    expectErrorShape(removed, [400, 404]);
    const moved = await t.api.request('POST', `/workspace/${sessionId}/files/move`, {
      token: owner.token,
      body: { from: 'src/escape/hostname', to: 'src/hostname.txt' },
    });
    expectErrorShape(moved, [400, 404]);
    const batch = await t.api.request('POST', `/workspace/${sessionId}/edits`, {
      token: owner.token,
      body: {
        writes: [
          { path: 'src/escape/evil', content: 'x' },
          { path: 'src/fine.txt', content: 'x' },
        ],
      },
    });
    expectErrorShape(batch, [400, 404]);
    const fine = await t.api.request('GET', `/workspace/${sessionId}/files/src/fine.txt`, {
      token: owner.token,
    });
    expect(fine.status).toBe(404);
    const link = await t.api.request('DELETE', `/workspace/${sessionId}/files/src/escape`, {
      token: owner.token,
    });
    expectErrorShape(link, [400, 404]);
  });

  it('refuses files over MAX_FILE_BYTES with 400 and bodies over the parser limit with 413', async () => {
    const tooLarge = await t.api.request('PUT', `/workspace/${sessionId}/files/big.txt`, {
      token: owner.token,
      body: { content: 'a'.repeat(MAX_FILE_BYTES + 1) },
    });
    expectErrorShape(tooLarge, 400);
    expect(tooLarge.body.message).toMatch(/MAX_FILE_BYTES/);
    // Multi-byte characters count as bytes, not characters.
    const wide = await t.api.request('PUT', `/workspace/${sessionId}/files/wide.txt`, {
      token: owner.token,
      body: { content: 'é'.repeat(MAX_FILE_BYTES / 2 + 1) },
    });
    expectErrorShape(wide, 400);
    const exact = await t.api.request('PUT', `/workspace/${sessionId}/files/exact.txt`, {
      token: owner.token,
      body: { content: 'a'.repeat(MAX_FILE_BYTES) },
    });
    expect(exact.status).toBe(200);
    expect(exact.body.size).toBe(MAX_FILE_BYTES);

    const huge = await t.api.request('PUT', `/workspace/${sessionId}/files/huge.txt`, {
      token: owner.token,
      body: { content: 'a'.repeat(MAX_FILE_BYTES * 4) },
    });
    expectErrorShape(huge, 413);
    expect(huge.body.message).toMatch(/too large/);
  });

  it('reads answer 404 for a missing file and 400 for a folder', async () => {
    expectErrorShape(
      await t.api.request('GET', `/workspace/${sessionId}/files/src/nope.astro`, { token: owner.token }),
      404,
    );
    expectErrorShape(
      await t.api.request('GET', `/workspace/${sessionId}/files/src/pages`, { token: owner.token }),
      400,
    );
  });

  it('answers 429 with the limit when the user holds MAX_SESSIONS_PER_USER sessions', async () => {
    const second = await t.api.request('POST', '/workspace/create', { token: owner.token });
    expectErrorShape(second, 429);
    expect(second.body.message).toMatch(/at most 1 active workspace session per user/);
  });

  it('records a file call on a session as activity', async () => {
    const activityAt = async () => {
      const [row] = await db.query<{ at: Date }>(
        'SELECT last_activity_at AS at FROM workspace_sessions WHERE id = $1',
        [sessionId],
      );
      return row.at.getTime();
    };
    const before = await activityAt();
    await new Promise((r) => setTimeout(r, 20));
    expect((await t.api.request('GET', `/workspace/${sessionId}/files`, { token: owner.token })).status).toBe(
      200,
    );
    // Activity is written behind the answer: wait for it rather than for a fixed time.
    expect(await eventually(async () => (await activityAt()) > before, 30_000, 50)).toBe(true);
  });

  it('a file write on a session that is not running answers 409', async () => {
    expect((await t.api.request('DELETE', `/workspace/${sessionId}`, { token: owner.token })).status).toBe(
      204,
    );
    const write = await t.api.request('PUT', `/workspace/${sessionId}/files/${PAGE}`, {
      token: owner.token,
      body: { content: 'late' },
    });
    expectErrorShape(write, 409);
    expect(write.body.message).toMatch(/stopped/);
    for (const [method, path, body] of [
      ['DELETE', `/workspace/${sessionId}/files/${PAGE}`, undefined],
      ['POST', `/workspace/${sessionId}/edits`, { writes: [{ path: PAGE, content: 'late' }] }],
      ['POST', `/workspace/${sessionId}/files/move`, { from: PAGE, to: 'src/pages/late.astro' }],
      ['GET', `/workspace/${sessionId}/logs`, undefined],
    ] as const) {
      expectErrorShape(await t.api.request(method, path, { token: owner.token, body }), 409);
    }
    expectErrorShape(
      await t.api.request('POST', `/workspace/${sessionId}/restart`, { token: owner.token }),
      409,
    );
  });
});

import { JwtService } from '@nestjs/jwt';
import { beforeAll, describe, expect, it } from 'vitest';
import { requireDocker } from '../support/docker';
import { useDockerApp } from '../support/docker-app';

// Ports of this file: 8455-8459.
const PORT_RANGE = { PORT_RANGE_START: '8455', PORT_RANGE_END: '8459' };
const SECRET = 'test-secret-test-secret-test-secret-0123456789';

const dockerReady = requireDocker('security-bad-input');

interface Probe {
  method: string;
  path: string;
  token?: string | null;
  body?: string;
  headers?: Record<string, string>;
}

describe.skipIf(!dockerReady)('bad-input sweep of every route: no 5xx, every error has a message', () => {
  const t = useDockerApp({ JWT_SECRET: SECRET, ...PORT_RANGE });
  let token: string;
  let userId: string;
  let sessionId: string;

  beforeAll(async () => {
    const user = await t.runningSession('sweep');
    token = user.token;
    userId = user.userId;
    sessionId = user.session.id;
  });

  async function send(probe: Probe): Promise<{ status: number; body: any; text: string }> {
    const headers: Record<string, string> = { ...probe.headers };
    if (probe.token) headers.authorization = `Bearer ${probe.token}`;
    if (probe.body !== undefined) headers['content-type'] ??= 'application/json';
    const response = await fetch(`${t.baseUrl}${probe.path}`, {
      method: probe.method,
      headers,
      body: probe.body,
    });
    const text = await response.text();
    let body: any = undefined;
    try {
      body = JSON.parse(text);
    } catch {
      // checked below
    }
    // A probe the API would take as a valid create starts a workspace: it is the suite's to remove
    // like any other (none should: a body that is not JSON is refused, 415).
    if (response.ok && typeof body?.id === 'string' && probe.path.startsWith('/api/v1/workspace/create'))
      t.sessionIds.add(body.id);
    return { status: response.status, body, text };
  }

  async function sweep(probes: Probe[]): Promise<void> {
    const failures: string[] = [];
    for (const probe of probes) {
      const answer = await send(probe);
      const label = `${probe.method} ${probe.path.slice(0, 120)} (${(probe.body ?? '').slice(0, 40)})`;
      if (answer.status >= 500) failures.push(`${label}: ${answer.status} ${answer.text.slice(0, 200)}`);
      if (
        answer.status >= 400 &&
        (typeof answer.body?.message !== 'string' || answer.body.message.length === 0)
      ) {
        failures.push(`${label}: ${answer.status} without a message: ${answer.text.slice(0, 200)}`);
      }
    }
    expect(failures).toEqual([]);
  }

  const id = () => sessionId;
  const routes = (): Array<{ method: string; path: string; body?: boolean }> => [
    { method: 'POST', path: '/api/v1/auth/register', body: true },
    { method: 'POST', path: '/api/v1/auth/login', body: true },
    { method: 'GET', path: '/api/v1/auth/me' },
    { method: 'POST', path: '/api/v1/workspace/create', body: true },
    { method: 'GET', path: '/api/v1/workspace' },
    { method: 'GET', path: `/api/v1/workspace/${id()}/status` },
    { method: 'POST', path: `/api/v1/workspace/${id()}/restart`, body: true },
    { method: 'GET', path: `/api/v1/workspace/${id()}/files` },
    { method: 'GET', path: `/api/v1/workspace/${id()}/files/src/pages/index.astro` },
    { method: 'PUT', path: `/api/v1/workspace/${id()}/files/src/pages/index.astro`, body: true },
    { method: 'PUT', path: `/api/v1/workspace/${id()}/files/src/pages/index.astro?verify=maybe`, body: true },
    { method: 'DELETE', path: `/api/v1/workspace/${id()}/files/src/pages/index.astro` },
    { method: 'POST', path: `/api/v1/workspace/${id()}/files/move`, body: true },
    { method: 'POST', path: `/api/v1/workspace/${id()}/edits`, body: true },
    { method: 'GET', path: `/api/v1/workspace/${id()}/logs` },
    { method: 'GET', path: `/api/v1/workspace/${id()}/logs?tail=abc` },
  ];

  it('malformed JSON', async () => {
    const bodies = ['{', '{"email":', 'not json', '[1,2', '{"a":1}}', '\u0000', '"\\ud800"'];
    await sweep(
      routes()
        .filter((r) => r.body)
        .flatMap((r) => bodies.map((body) => ({ ...r, token, body }))),
    );
  });

  it('wrong types and unknown fields', async () => {
    const bodies = [
      '{"email":5,"password":[]}',
      '{"email":"a@b.c","password":{"$gt":""}}',
      '{"templateName":123}',
      '{"templateName":"../../etc"}',
      '{"templateName":"ünïcødé-✓"}',
      '{"content":5}',
      '{"content":null}',
      '{"content":["a"]}',
      '{"unexpected":true}',
      '{"writes":5}',
      '{"writes":[{"path":5,"content":"x"}]}',
      '{"writes":[null],"deletes":[null]}',
      '{"writes":[],"deletes":[],"verify":"yes"}',
      '{"from":1,"to":[]}',
      '{"from":"src/a.astro"}',
      'null',
      '[]',
      '"string"',
      '12',
    ];
    await sweep(
      routes()
        .filter((r) => r.body)
        .flatMap((r) => bodies.map((body) => ({ ...r, token, body }))),
    );
  });

  it('huge bodies', async () => {
    const huge = JSON.stringify({ content: 'x'.repeat(3 * 1024 * 1024), email: 'a@b.c', password: 'x' });
    await sweep(
      routes()
        .filter((r) => r.body)
        .map((r) => ({ ...r, token, body: huge })),
    );
    const tooLarge = await send({
      method: 'PUT',
      path: `/api/v1/workspace/${id()}/files/a.txt`,
      token,
      body: huge,
    });
    expect(tooLarge.status).toBe(413);
  });

  it('unicode and traversal in paths', async () => {
    const files = `/api/v1/workspace/${id()}/files/`;
    const paths = [
      `${files}..%2F..%2F..%2Fetc%2Fpasswd`,
      `${files}../../../etc/passwd`,
      `${files}%2e%2e/%2e%2e/etc/passwd`,
      `${files}src/..%5C..%5Cetc`,
      `${files}%00`,
      `${files}src/%E2%80%AE.astro`,
      `${files}%F0%9F%92%A9/%C3%BC.txt`,
      `${files}%ff%fe`,
      `${files}node_modules/astro/package.json`,
      `${files}${'a/'.repeat(500)}x`,
      `${files}/etc/passwd`,
      '/api/v1/workspace/%C3%BC%C3%B1%C3%AF/status',
      '/api/v1/workspace/..%2F..%2Fauth%2Fme/status',
      '/api/v1/workspace/00000000-0000-0000-0000-000000000000/status',
      `/api/v1/workspace/${id()}%00/status`,
    ];
    const probes: Probe[] = paths.flatMap((path) => [
      { method: 'GET', path, token },
      { method: 'PUT', path, token, body: '{"content":"x"}' },
      { method: 'DELETE', path, token },
    ]);
    await sweep(probes);
  });

  it('bad and expired JWTs on every authenticated route', async () => {
    const otherSecret = new JwtService({ secret: 'another-secret-another-secret-another-secret' });
    const ours = new JwtService({ secret: SECRET });
    const tokens = [
      'garbage',
      'a.b.c',
      `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: userId })).toString('base64url')}.`,
      otherSecret.sign({ sub: userId, email: 'x@y.z' }),
      ours.sign({ sub: userId, email: 'x@y.z' }, { expiresIn: -60 }),
      ours.sign({ sub: 'not-a-uuid', email: 'x@y.z' }),
      ours.sign({ sub: '00000000-0000-4000-8000-000000000000', email: 'ghost@y.z' }),
      'ü'.repeat(50),
    ];
    const authenticated = routes().filter(
      (r) => !r.path.includes('/auth/register') && !r.path.includes('/auth/login'),
    );
    const probes: Probe[] = authenticated.flatMap((r) =>
      tokens.map((bad) => ({
        method: r.method,
        path: r.path,
        token: bad,
        body: r.body ? '{"content":"x"}' : undefined,
      })),
    );
    await sweep(probes);
    // Every one of them is refused.
    for (const bad of tokens.slice(0, 6)) {
      const answer = await send({ method: 'GET', path: '/api/v1/workspace', token: bad });
      expect(answer.status).toBe(401);
    }
    const expired = await send({ method: 'GET', path: '/api/v1/auth/me', token: tokens[4] });
    expect(expired.body.message).toMatch(/expired/);
    // Headers that are not Bearer tokens.
    await sweep([
      { method: 'GET', path: '/api/v1/workspace', headers: { authorization: 'Basic Zm9vOmJhcg==' } },
      { method: 'GET', path: '/api/v1/workspace', headers: { authorization: 'Bearer' } },
      {
        method: 'GET',
        path: '/api/v1/workspace',
        headers: { authorization: `Bearer ${'x'.repeat(10_000)}` },
      },
    ]);
  });

  it('other methods and unknown routes', async () => {
    await sweep([
      { method: 'PATCH', path: `/api/v1/workspace/${id()}`, token },
      { method: 'DELETE', path: '/api/v1/workspace', token },
      { method: 'GET', path: '/api/v1/nope', token },
      { method: 'POST', path: '/health', token },
      { method: 'GET', path: '/api/v1/workspace/create', token },
      {
        method: 'POST',
        path: '/api/v1/workspace/create',
        token,
        body: '{}',
        headers: { 'content-type': 'text/plain' },
      },
      {
        method: 'POST',
        path: '/api/v1/auth/login',
        body: 'email=a&password=b',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      },
    ]);
    // A body that is not JSON is refused before any route: no workspace starts on its defaults.
    const before = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM workspace_sessions`);
    const plain = await send({
      method: 'POST',
      path: '/api/v1/workspace/create',
      token,
      body: '{}',
      headers: { 'content-type': 'text/plain' },
    });
    expect(plain.status).toBe(415);
    expect(plain.body.message).toMatch(/application\/json/);
    expect(await t.db.query(`SELECT count(*)::int AS n FROM workspace_sessions`)).toEqual(before);
    // The session is unharmed by all of it (the sweep's well-authenticated restart calls may have
    // restarted it, which is no harm).
    const status = await t.api.request('GET', `/workspace/${id()}/status`, { token });
    expect(['running', 'creating']).toContain(status.body.status);
    expect(status.body.errorMessage).toBeNull();
  });
});

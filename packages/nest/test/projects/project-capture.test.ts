import { describe, expect, it } from 'vitest';
import { docker, requireDocker } from '../support/docker';
import { useDockerApp } from '../support/docker-app';
import { eventually, type TestUser } from '../support/test-app';

// Ports of this file: 8775-8779.
const PORT_RANGE = { PORT_RANGE_START: '8775', PORT_RANGE_END: '8779', PREVIEW_MODE: 'direct' };
const INDEX = 'src/pages/index.astro';
const TEMPLATE_TEXT = 'Build your landing page in minutes';

const dockerReady = requireDocker('project-capture');

/**
 * Idle stop and expiry end a session from the lifecycle job, not from its owner: what changed inside
 * the workspace (not through the files API) must still become a version before it is removed.
 */
describe.skipIf(!dockerReady)('idle stop and expiry capture files changed inside the workspace', () => {
  const t = useDockerApp({
    ...PORT_RANGE,
    IDLE_TIMEOUT_SECONDS: '20',
    SESSION_TTL_SECONDS: '50',
    LIFECYCLE_INTERVAL_MS: '1000',
    ACTIVITY_WRITE_INTERVAL_MS: '0',
  });

  async function changeInside(sessionId: string, marker: string): Promise<void> {
    const [container] = await docker.listContainers({
      filters: { label: [`dev.builder.session-id=${sessionId}`] },
    });
    const exec = await docker.getContainer(container.Id).exec({
      Cmd: [
        'sh',
        '-c',
        `sed -i 's/${TEMPLATE_TEXT}/${marker}/' ${INDEX} && echo "${marker}" > src/inside.txt`,
      ],
      User: '1000:1000',
      WorkingDir: '/app',
      AttachStdout: true,
      AttachStderr: true,
    });
    const stream = await exec.start({});
    await new Promise((resolve) => stream.on('end', resolve).resume());
    expect((await exec.inspect()).ExitCode).toBe(0);
  }

  /** Session status from the database: polling the API would count as activity. */
  async function statusOf(sessionId: string): Promise<{ status: string; error_message: string | null }> {
    const [row] = await t.db.query<{ status: string; error_message: string | null }>(
      `SELECT status, error_message FROM workspace_sessions WHERE id = $1`,
      [sessionId],
    );
    return row;
  }

  async function expectCaptured(
    user: TestUser,
    sessionId: string,
    projectId: string,
    marker: string,
  ): Promise<void> {
    const versions = await t.api.request('GET', `/projects/${projectId}/versions`, { token: user.token });
    expect(versions.body[0]).toMatchObject({ number: 2, kind: 'snapshot', authorSessionId: sessionId });
    expect(versions.body[0].changedPaths).toEqual(['src/inside.txt', INDEX]);
    const next = await t.api.request('POST', '/workspace/create', { token: user.token, body: { projectId } });
    expect(next.status).toBe(201);
    t.sessionIds.add(next.body.id);
    expect((await t.api.waitForSettled(user.token, next.body.id)).status).toBe('running');
    const index = await t.api.request('GET', `/workspace/${next.body.id}/files/${INDEX}`, {
      token: user.token,
    });
    expect(index.body.content).toContain(marker);
    const inside = await t.api.request('GET', `/workspace/${next.body.id}/files/src/inside.txt`, {
      token: user.token,
    });
    expect(inside.body.content).toBe(`${marker}\n`);
    await t.api.request('DELETE', `/workspace/${next.body.id}`, { token: user.token });
  }

  it('idle stop: a session nobody touches stops, and its in-container edit is a version', async () => {
    const { session, ...user } = await t.runningSession('idle');
    const marker = `Idle inside ${Date.now()}`;
    await changeInside(session.id, marker);
    expect(await eventually(async () => (await statusOf(session.id)).status === 'stopped', 90_000, 500)).toBe(
      true,
    );
    expect((await statusOf(session.id)).error_message).toMatch(/idle/i);
    await expectCaptured(user, session.id, session.projectId, marker);
  });

  it('expiry: a session kept busy past its lifetime ends, and its in-container edit is a version', async () => {
    const user = await t.api.newUser('expiry');
    const created = await t.api.request('POST', '/workspace/create', { token: user.token, body: {} });
    t.sessionIds.add(created.body.id);
    const session = await t.api.waitForSettled(user.token, created.body.id);
    expect(session.status).toBe('running');
    const marker = `Expired inside ${Date.now()}`;
    await changeInside(session.id, marker);
    // Busy all along (status polls are activity): only the lifetime can end it.
    const ended = await eventually(
      async () => {
        const status = await t.api.request('GET', `/workspace/${session.id}/status`, { token: user.token });
        return status.body.status === 'stopped';
      },
      120_000,
      2_000,
    );
    expect(ended).toBe(true);
    expect((await statusOf(session.id)).error_message).toMatch(/expire/i);
    await expectCaptured(user, session.id, session.projectId, marker);
  });
});

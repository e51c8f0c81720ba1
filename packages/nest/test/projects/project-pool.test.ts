import { describe, expect, it } from 'vitest';
import { WarmPoolService } from '../../src/modules/workspace/pool/warm-pool.service';
import { requireDocker } from '../support/docker';
import { useDockerApp } from '../support/docker-app';
import { eventually, fetchPreview, type TestUser } from '../support/test-app';

// Ports of this file: 8780-8789.
const PORT_RANGE = { PORT_RANGE_START: '8780', PORT_RANGE_END: '8789', PREVIEW_MODE: 'direct' };
const INDEX = 'src/pages/index.astro';
const TEMPLATE_TEXT = 'Build your landing page in minutes';

const dockerReady = requireDocker('project-pool');

describe.skipIf(!dockerReady)('sessions of existing projects from the warm pool', () => {
  const t = useDockerApp({
    ...PORT_RANGE,
    WARM_POOL_SIZE: '1',
    START_CONCURRENCY: '1',
    MAX_SESSIONS_PER_USER: '3',
  });

  const poolReady = () =>
    eventually(async () => (await t.app.get(WarmPoolService).size()).running === 1, 120_000, 250);

  async function projectWithEdit(user: TestUser, marker: string, path = INDEX): Promise<string> {
    const project = await t.api.request('POST', '/projects', { token: user.token, body: {} });
    expect(project.status).toBe(201);
    // Edit through a session of the project, then end it: the edit lives in the project only.
    expect(await poolReady()).toBe(true);
    const session = await t.api.request('POST', '/workspace/create', {
      token: user.token,
      body: { projectId: project.body.id },
    });
    t.sessionIds.add(session.body.id);
    expect((await t.api.waitForSettled(user.token, session.body.id)).status).toBe('running');
    const file = await t.api.request('GET', `/workspace/${session.body.id}/files/${path}`, {
      token: user.token,
    });
    const content =
      path === INDEX
        ? file.body.content.replace(TEMPLATE_TEXT, marker)
        : `${file.body.content}\n// ${marker}\n`;
    expect(
      (
        await t.api.request('PUT', `/workspace/${session.body.id}/files/${path}`, {
          token: user.token,
          body: { content },
        })
      ).status,
    ).toBe(200);
    expect(
      (await t.api.request('DELETE', `/workspace/${session.body.id}`, { token: user.token })).status,
    ).toBe(204);
    return project.body.id;
  }

  it(
    "answers running at once, and the first page already shows the project's content, never the template's",
    { timeout: 300_000 },
    async () => {
      const user = await t.api.newUser('pooled');
      const marker = `Pooled project content ${Date.now()}`;
      const projectId = await projectWithEdit(user, marker);
      expect(await poolReady()).toBe(true);

      const created = await t.api.request('POST', '/workspace/create', {
        token: user.token,
        body: { projectId },
      });
      expect(created.status).toBe(201);
      t.sessionIds.add(created.body.id);
      // From the pool: running in the create's own answer.
      expect(created.body).toMatchObject({ status: 'running', projectId, buildStep: 'ready' });
      // The pooled dev server had built the template's page; the very first request gets the project's.
      const page = await fetchPreview(created.body.previewUrl);
      expect(page.status).toBe(200);
      expect(page.text).toContain(marker);
      expect(page.text).not.toContain(TEMPLATE_TEXT);
      await t.api.request('DELETE', `/workspace/${created.body.id}`, { token: user.token });
    },
  );

  it(
    'a project whose dev-server configuration differs from the template starts cold instead',
    { timeout: 300_000 },
    async () => {
      const user = await t.api.newUser('config');
      const marker = `config change ${Date.now()}`;
      const projectId = await projectWithEdit(user, marker, 'tailwind.config.mjs');
      expect(await poolReady()).toBe(true);
      const created = await t.api.request('POST', '/workspace/create', {
        token: user.token,
        body: { projectId },
      });
      expect(created.status).toBe(201);
      t.sessionIds.add(created.body.id);
      expect(created.body.status).toBe('creating');
      const running = await t.api.waitForSettled(user.token, created.body.id);
      expect(running.status).toBe('running');
      const config = await t.api.request('GET', `/workspace/${created.body.id}/files/tailwind.config.mjs`, {
        token: user.token,
      });
      expect(config.body.content).toContain(marker);
      // The pooled workspace was not used: still there for the next create.
      expect((await t.app.get(WarmPoolService).size()).running).toBe(1);
      await t.api.request('DELETE', `/workspace/${created.body.id}`, { token: user.token });
    },
  );
});

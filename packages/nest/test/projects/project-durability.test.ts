import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackendProcesses } from '../support/backend-process';
import { docker, requireDocker } from '../support/docker';
import { startS3Server, type TestS3Server } from '../support/s3-server';
import { fetchPreview } from '../support/test-app';

// Ports of this file: 8770-8774.
const INDEX = 'src/pages/index.astro';
const TEMPLATE_TEXT = 'Build your landing page in minutes';

const dockerReady = requireDocker('project-durability');

describe.skipIf(!dockerReady)(
  'an acknowledged edit survives docker kill of its workspace and kill -9 of the backend (S3 store)',
  () => {
    const backends = useBackendProcesses('durability', { PORT_RANGE_START: '8770', PORT_RANGE_END: '8774', PREVIEW_MODE: 'direct' });
  let s3: TestS3Server;
  const startBackend = () => backends.start(s3.env('durability'));

  beforeAll(async () => {
    s3 = await startS3Server();
  });
  afterAll(async () => {
    await s3?.close();
  });

  it('a new backend on the same database and store, a new session of the project: the edit is there', async () => {
      const first = await startBackend();
      const user = await first.api.newUser('durable');
      const created = await first.api.request('POST', '/workspace/create', { token: user.token, body: {} });
      expect(created.status).toBe(201);
      backends.sessionIds.add(created.body.id);
      const session = await first.api.waitForSettled(user.token, created.body.id);
      expect(session.status).toBe('running');
      const original = await first.api.request('GET', `/workspace/${session.id}/files/${INDEX}`, {
        token: user.token,
      });
      const marker = `Acknowledged then crashed ${Date.now()}`;
      const [container] = await docker.listContainers({
        filters: { label: [`dev.builder.session-id=${session.id}`] },
      });

      const put = await first.api.request('PUT', `/workspace/${session.id}/files/${INDEX}`, {
        token: user.token,
        body: { content: original.body.content.replace(TEMPLATE_TEXT, marker) },
      });
      expect(put.status).toBe(200);
      // At once, both: the workspace and the backend die without any clean-up.
      const exited = new Promise((resolveExit) => first.child.once('exit', resolveExit));
      await Promise.all([
        docker.getContainer(container.Id).kill(),
        Promise.resolve(first.child.kill('SIGKILL')),
      ]);
      await exited;

      const second = await startBackend();
      const versions = await second.api.request('GET', `/projects/${session.projectId}/versions`, {
        token: user.token,
      });
      expect(versions.status).toBe(200);
      expect(versions.body[0]).toMatchObject({ number: 2, kind: 'edit', changedPaths: [INDEX] });

      const again = await second.api.request('POST', '/workspace/create', {
        token: user.token,
        body: { projectId: session.projectId },
      });
      expect(again.status).toBe(201);
      backends.sessionIds.add(again.body.id);
      const running = await second.api.waitForSettled(user.token, again.body.id);
      expect(running.status, running.errorMessage).toBe('running');
      const page = await fetchPreview(running.previewUrl, 30_000);
      expect(page.text).toContain(marker);

      // Reconciliation (at the second backend's start-up) left the project's versions as they were.
      const after = await second.api.request('GET', `/projects/${session.projectId}/versions`, {
        token: user.token,
      });
      expect(after.body.map((v: { number: number }) => v.number)).toEqual([2, 1]);
    });
  },
);

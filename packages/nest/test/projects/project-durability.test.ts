import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileBackend } from '../support/compile-backend';
import { DOCKER_SOCKET, TEMPLATE_IMAGE, docker, removeLeftovers, requireDocker } from '../support/docker';
import { startS3Server, type TestS3Server } from '../support/s3-server';
import { ApiClient, eventually, fetchPreview } from '../support/test-app';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

// Ports of this file: 8770-8774.
const PORT_START = 8770;
const PORT_END = 8774;
const NEST_DIR = resolve(__dirname, '../..');
const INDEX = 'src/pages/index.astro';
const TEMPLATE_TEXT = 'Build your landing page in minutes';

const dockerReady = requireDocker('project-durability');

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

describe.skipIf(!dockerReady)(
  'an acknowledged edit survives docker kill of its workspace and kill -9 of the backend (S3 store)',
  () => {
    const outDir = join(NEST_DIR, 'test-artifacts', `dist-durability-${process.pid}`);
    let db: TestDatabase;
    let s3: TestS3Server;
    const children: ChildProcess[] = [];
    const sessionIds = new Set<string>();

    beforeAll(async () => {
      db = await createTestDatabase();
      s3 = await startS3Server();
      await compileBackend(outDir);
    }, 180_000);

    afterAll(async () => {
      for (const child of children)
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      const rows = await db?.query<{ id: string }>(`SELECT id FROM workspace_sessions`).catch(() => []);
      for (const row of rows ?? []) sessionIds.add(row.id);
      await removeLeftovers(sessionIds);
      await db?.drop();
      await s3?.close();
      rmSync(outDir, { recursive: true, force: true });
    });

    async function startBackend(): Promise<{ child: ChildProcess; api: ApiClient; output: () => string }> {
      const port = await freePort();
      const child = spawn(process.execPath, [join(outDir, 'main.js')], {
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '/tmp',
          NODE_ENV: 'test',
          LOG_LEVEL: 'warn',
          PORT: String(port),
          JWT_SECRET: 'test-secret-test-secret-test-secret-0123456789',
          DATABASE_URL: db.url,
          RUNTIME: 'docker',
          DOCKER_SOCKET,
          TEMPLATE_IMAGE,
          PREVIEW_HOST: '127.0.0.1',
          PORT_RANGE_START: String(PORT_START),
          PORT_RANGE_END: String(PORT_END),
          ...s3.env('durability'),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let output = '';
      child.stdout?.on('data', (chunk) => (output += chunk));
      child.stderr?.on('data', (chunk) => (output += chunk));
      const api = new ApiClient(`http://127.0.0.1:${port}`);
      const up = await eventually(
        async () => (await fetch(`http://127.0.0.1:${port}/health`)).ok,
        30_000,
        200,
      );
      if (!up) throw new Error(`backend did not start: ${output}`);
      return { child, api, output: () => output };
    }

    it('a new backend on the same database and store, a new session of the project: the edit is there', async () => {
      const first = await startBackend();
      const user = await first.api.newUser('durable');
      const created = await first.api.request('POST', '/workspace/create', { token: user.token, body: {} });
      expect(created.status).toBe(201);
      sessionIds.add(created.body.id);
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
      sessionIds.add(again.body.id);
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

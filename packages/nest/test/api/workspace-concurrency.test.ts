import { describe, expect, it } from 'vitest';
import { leftoversOf, requireDocker } from '../support/docker';
import { useDockerApp } from '../support/docker-app';
import { fetchPreview } from '../support/test-app';

// Ports of this file: 8020-8049.
// Previews on their published ports (PREVIEW_MODE=direct): Node's fetch reads them at 127.0.0.1,
// where it cannot resolve the proxy's *.preview.localhost names.
const TEST_ENV = { PORT_RANGE_START: '8020', PORT_RANGE_END: '8049', PREVIEW_MODE: 'direct' };
const CREATES = 20;

const dockerReady = requireDocker('workspace-concurrency');

describe.skipIf(!dockerReady)(`${CREATES} concurrent creates on Docker`, () => {
  const t = useDockerApp({
    MAX_SESSIONS_PER_USER: String(CREATES + 5),
    START_CONCURRENCY: '2',
    START_TIMEOUT_MS: '180000',
    ...TEST_ENV,
  });

  it(
    'never share a port, all reach running or fail clearly, and nothing is left after deletes',
    { timeout: 600_000 },
    async () => {
      const user = await t.api.newUser('many');
      const startedAt = Date.now();
      const created = await Promise.all(
        Array.from({ length: CREATES }, () =>
          t.api.request('POST', '/workspace/create', { token: user.token }),
        ),
      );
      for (const response of created) {
        expect(response.status, response.text).toBe(201);
        t.sessionIds.add(response.body.id);
      }
      const ports = created.map((r) => r.body.port as number);
      expect(new Set(ports).size).toBe(CREATES);
      // With two start slots, the rest wait in line and say where they are.
      const queued = created.filter((r) => r.body.buildStep === 'queued');
      expect(queued.length).toBeGreaterThanOrEqual(CREATES - 2);
      expect(new Set(queued.map((r) => r.body.queuePosition)).size).toBe(queued.length);

      const settled = await Promise.all(
        created.map((r) => t.api.waitForSettled(user.token, r.body.id, 540_000)),
      );
      const totalMs = Date.now() - startedAt;
      const running = settled.filter((s) => s.status === 'running');
      const failed = settled.filter((s) => s.status !== 'running');
      console.log(
        `[measure] ${CREATES} creates, START_CONCURRENCY 2: all settled after ${totalMs} ms; ${running.length} running, ${failed.length} failed`,
      );
      for (const session of failed) {
        expect(session.status).toBe('error');
        expect(session.errorMessage, JSON.stringify(session)).toMatch(/\w{10,}/);
      }
      expect(running.length).toBeGreaterThan(0);

      // Each preview URL reaches its own workspace: write the session id into each and read it back.
      await Promise.all(
        running.map((s) =>
          t.api.request('PUT', `/workspace/${s.id}/files/public/whoami.txt`, {
            token: user.token,
            body: { content: s.id },
          }),
        ),
      );
      for (const session of running) {
        const answer = await fetchPreview(`${session.previewUrl}/whoami.txt`);
        expect(answer.text.trim()).toBe(session.id);
      }
      const activePorts = await t.db.query<{ port: number; n: number }>(
        `SELECT port, count(*)::int AS n FROM workspace_sessions
        WHERE status IN ('creating', 'running', 'stopping') GROUP BY port HAVING count(*) > 1`,
      );
      expect(activePorts).toEqual([]);

      await Promise.all(
        settled.map(async (s) => {
          const response = await t.api.request('DELETE', `/workspace/${s.id}`, { token: user.token });
          expect(response.status).toBe(204);
        }),
      );
      expect(await leftoversOf(t.sessionIds)).toEqual({ containers: [], volumes: [] });
      const stillActive = await t.db.query(`SELECT id FROM workspace_sessions WHERE status <> 'stopped'`);
      expect(stillActive).toEqual([]);
    },
  );
});

import { describe, expect, it } from 'vitest';
import { leftoversOf, requireDocker } from '../support/docker';
import { useDockerApp } from '../support/docker-app';
import { eventually, fetchPreview } from '../support/test-app';

// Ports of this file: 8020-8049.
// Previews on their published ports (PREVIEW_MODE=direct): Node's fetch reads them at 127.0.0.1,
// where it cannot resolve the proxy's *.preview.localhost names.
const TEST_ENV = { PORT_RANGE_START: '8020', PORT_RANGE_END: '8049', PREVIEW_MODE: 'direct' };
const CREATES = 20;
const START_TIMEOUT_MS = 180_000;

const dockerReady = requireDocker('workspace-concurrency');

describe.skipIf(!dockerReady)(`${CREATES} concurrent creates on Docker`, () => {
  const t = useDockerApp({
    MAX_SESSIONS_PER_USER: String(CREATES + 5),
    START_CONCURRENCY: '2',
    START_TIMEOUT_MS: String(START_TIMEOUT_MS),
    ...TEST_ENV,
  });

  /**
   * Polls every session until none is `creating`. No overall deadline: on a loaded machine twenty
   * starts two at a time take what they take. It fails only when nothing moves (no session changes
   * status, build step or queue position) for longer than one start may take (START_TIMEOUT_MS,
   * after which the product itself ends a start in error).
   */
  async function settleAll(token: string, ids: string[]): Promise<any[]> {
    const stallMs = START_TIMEOUT_MS + 60_000;
    let last = '';
    let movedAt = Date.now();
    for (;;) {
      const sessions = await Promise.all(
        ids.map(async (id) => {
          const answer = await t.api.request('GET', `/workspace/${id}/status`, { token });
          if (answer.status !== 200) throw new Error(`status of ${id}: ${answer.status} ${answer.text}`);
          return answer.body;
        }),
      );
      if (sessions.every((s) => s.status !== 'creating')) return sessions;
      const progress = JSON.stringify(sessions.map((s) => [s.status, s.buildStep, s.queuePosition]));
      if (progress !== last) {
        last = progress;
        movedAt = Date.now();
      } else if (Date.now() - movedAt > stallMs) {
        throw new Error(`no start moved for ${stallMs} ms: ${progress}`);
      }
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }

  it('all start, each on its own port, queued two at a time; nothing is left after deletes', { timeout: 3_600_000 }, async () => {
    const user = await t.api.newUser('many');
    const startedAt = Date.now();
    const created = await Promise.all(
      Array.from({ length: CREATES }, () => t.api.request('POST', '/workspace/create', { token: user.token })),
    );
    for (const response of created) if (response.body?.id) t.sessionIds.add(response.body.id);
    for (const response of created) expect(response.status, response.text).toBe(201);
    const ports = created.map((r) => r.body.port as number);
    expect(new Set(ports).size).toBe(CREATES);
    // With two start slots, the rest wait in line and say where they are.
    const queued = created.filter((r) => r.body.buildStep === 'queued');
    expect(queued.length).toBeGreaterThanOrEqual(CREATES - 2);
    expect(new Set(queued.map((r) => r.body.queuePosition)).size).toBe(queued.length);

    const running = await settleAll(
      user.token,
      created.map((r) => r.body.id as string),
    );
    console.log(`[measure] ${CREATES} creates, START_CONCURRENCY 2: all settled after ${Date.now() - startedAt} ms`);
    // Every one of them runs: the queue holds what the slots cannot take, it does not fail it.
    expect(running.filter((s) => s.status !== 'running').map((s) => `${s.id}: ${s.status} ${s.errorMessage}`)).toEqual([]);
    expect(new Set(running.map((s) => s.port)).size).toBe(CREATES);
    expect(new Set(running.map((s) => s.previewUrl)).size).toBe(CREATES);

    // Each preview URL reaches its own workspace: write the session id into each and read it back.
    await Promise.all(
      running.map((s) =>
        t.api.request('PUT', `/workspace/${s.id}/files/public/whoami.txt`, { token: user.token, body: { content: s.id } }),
      ),
    );
    // The dev server serves a new public file once its watcher has seen it: wait for that (a 404
    // until then), then the answer must be this session's own id.
    for (const session of running) {
      let answer = { status: 0, text: '' };
      await eventually(async () => (answer = await fetchPreview(`${session.previewUrl}/whoami.txt`)).status !== 404, 60_000);
      expect(answer.status, answer.text.slice(0, 200)).toBe(200);
      expect(answer.text.trim()).toBe(session.id);
    }
    const activePorts = await t.db.query<{ port: number; n: number }>(
      `SELECT port, count(*)::int AS n FROM workspace_sessions
        WHERE status IN ('creating', 'running', 'stopping') GROUP BY port HAVING count(*) > 1`,
    );
    expect(activePorts).toEqual([]);

    await Promise.all(
      running.map(async (s) => {
        const response = await t.api.request('DELETE', `/workspace/${s.id}`, { token: user.token });
        expect(response.status).toBe(204);
      }),
    );
    expect(await leftoversOf(t.sessionIds)).toEqual({ containers: [], volumes: [] });
    const stillActive = await t.db.query(`SELECT id FROM workspace_sessions WHERE status <> 'stopped'`);
    expect(stillActive).toEqual([]);
  });
});

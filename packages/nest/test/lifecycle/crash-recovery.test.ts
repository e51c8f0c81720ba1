import { describe, expect, it } from 'vitest';
import { useBackendProcesses } from '../support/backend-process';
import { leftoversOf, requireDocker } from '../support/docker';
import { eventually, portIsBound } from '../support/test-app';

// Ports of this file: 8420-8429.
const PORT_START = 8420;
const PORT_END = 8429;
const CREATES = 4;

const dockerReady = requireDocker('lifecycle-crash-recovery');

describe.skipIf(!dockerReady)('kill -9 of the backend during concurrent creates, then a restart', () => {
  const backends = useBackendProcesses('crash', {
    PORT_RANGE_START: String(PORT_START),
    PORT_RANGE_END: String(PORT_END),
    MAX_SESSIONS_PER_USER: String(CREATES),
    START_CONCURRENCY: String(CREATES),
  });
  const { sessionIds } = backends;
  const startBackend = (extra: Record<string, string>) => backends.start(extra);

  it('leaves no orphan container or volume, no session in creating and every port free', async () => {
    const first = await startBackend({});
    const user = await first.api.newUser('crash');
    const created = await Promise.all(
      Array.from({ length: CREATES }, () =>
        first.api.request('POST', '/workspace/create', { token: user.token, body: {} }),
      ),
    );
    for (const answer of created) sessionIds.add(answer.body.id);
    for (const answer of created) expect(answer.status).toBe(201);
    // Kill it in the middle: once some workspaces exist in the engine, before they are ready.
    expect(await eventually(async () => (await leftoversOf(sessionIds)).containers.length >= 2, 60_000, 100)).toBe(true);
    const before = await leftoversOf(sessionIds);
    const [{ count: creatingBefore }] = await backends.db.query<{ count: string }>(
      `SELECT count(*) FROM workspace_sessions WHERE status = 'creating'`,
    );
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    console.log(
      `[measure] killed with ${creatingBefore} sessions creating, ${before.containers.length} containers and ${before.volumes.length} volumes in the engine`,
    );
    expect(Number(creatingBefore)).toBeGreaterThan(0);

    const restartedAt = Date.now();
    const second = await startBackend({ STUCK_CREATING_MS: '2000', RECONCILE_INTERVAL_MS: '2000' });
    const clean = await eventually(async () => {
      const [{ count }] = await backends.db.query<{ count: string }>(
        `SELECT count(*) FROM workspace_sessions WHERE status IN ('creating', 'stopping') OR port IS NOT NULL`,
      );
      const left = await leftoversOf(sessionIds);
      return Number(count) === 0 && left.containers.length === 0 && left.volumes.length === 0;
    }, 60_000, 500);
    console.log(`[measure] restart → clean in ${Date.now() - restartedAt} ms`);
    expect(clean, second.output()).toBe(true);

    const rows = await backends.db.query<{ status: string; error_message: string }>(
      'SELECT status, error_message FROM workspace_sessions WHERE id = ANY($1::uuid[])',
      [[...sessionIds]],
    );
    for (const row of rows) {
      expect(row.status).toBe('error');
      expect(row.error_message).toMatch(/did not finish starting|backend/);
    }
    for (let port = PORT_START; port <= PORT_END; port++)
      expect(await portIsBound(port), `port ${port}`).toBe(false);

    // The restarted backend works: a new session starts on the same database.
    const again = await second.api.request('POST', '/workspace/create', { token: user.token, body: {} });
    sessionIds.add(again.body.id);
    expect(again.status).toBe(201);
    expect((await second.api.waitForSettled(user.token, again.body.id)).status).toBe('running');
    expect(
      (await second.api.request('DELETE', `/workspace/${again.body.id}`, { token: user.token })).status,
    ).toBe(204);

    const metrics = await (await fetch(`${second.api.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/builder_reconcile_actions_total\{action="stuck-creating"\} [1-9]/);
    second.child.kill('SIGTERM');
    await new Promise((r) => second.child.once('exit', r));
  });
});

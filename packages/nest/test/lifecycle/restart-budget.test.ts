import { describe, expect, it } from 'vitest';
import { docker, leftoversOf, requireDocker } from '../support/docker';
import { useDockerApp } from '../support/docker-app';
import { eventually } from '../support/test-app';

// Ports of this file: 8470-8474.
const PORT_RANGE = { PORT_RANGE_START: '8470', PORT_RANGE_END: '8474' };
const HEALTH_INTERVAL_MS = 3_000;

const dockerReady = requireDocker('lifecycle-restart-budget');

describe.skipIf(!dockerReady)('the restart budget outlives the backend process', () => {
  const t = useDockerApp({ HEALTH_INTERVAL_MS: String(HEALTH_INTERVAL_MS), ...PORT_RANGE });

  async function row(id: string) {
    const [found] = await t.db.query<{ status: string; container_id: string; error_message: string | null; restart_count: number }>(
      'SELECT status, container_id, error_message, restart_count FROM workspace_sessions WHERE id = $1',
      [id],
    );
    return found;
  }

  it('a workspace restarted once by one backend ends in error at its next death under a restarted backend', async () => {
    const { token, session } = await t.runningSession('budget');
    const { container_id: containerId } = await row(session.id);
    const firstStart = (await docker.getContainer(containerId).inspect()).State.StartedAt;

    await docker.getContainer(containerId).kill();
    expect(
      await eventually(async () => {
        const state = (await docker.getContainer(containerId).inspect()).State;
        return state.Running && state.StartedAt !== firstStart;
      }, 60_000, 200),
    ).toBe(true);
    // The restart is on record in the session's row, not only in the first backend's memory.
    expect(await eventually(async () => (await row(session.id)).restart_count === 1, 30_000, 200)).toBe(true);
    expect((await row(session.id)).status).toBe('running');

    // The backend goes away and another one takes over the same database and engine.
    await t.close();
    const second = await t.startApp();

    await docker.getContainer(containerId).kill();
    expect(await eventually(async () => (await row(session.id)).status === 'error', 60_000, 200)).toBe(true);
    const ended = await second.api.request('GET', `/workspace/${session.id}/status`, { token });
    expect(ended.body).toMatchObject({ status: 'error', port: null, previewUrl: null });
    expect(ended.body.errorMessage).toMatch(/already been restarted once/);
    expect((await row(session.id)).restart_count).toBe(1);
    // Not restarted a second time: the container was removed, never started again.
    expect(await leftoversOf([session.id])).toEqual({ containers: [], volumes: [] });
  });
});

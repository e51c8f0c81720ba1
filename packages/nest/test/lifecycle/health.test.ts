import { describe, expect, it } from 'vitest';
import { WORKSPACE_RUNTIME, type WorkspaceRuntime } from '../../src/shared/runtime/workspace-runtime.interface';
import { docker, leftoversOf, requireDocker } from '../support/docker';
import { useDockerApp } from '../support/docker-app';
import { eventually, fetchPreview, portIsBound } from '../support/test-app';

// Ports of this file: 8410-8419.
// Previews on their published ports (PREVIEW_MODE=direct): Node's fetch reads them at 127.0.0.1,
// where it cannot resolve the proxy's *.preview.localhost names.
const TEST_ENV = { PORT_RANGE_START: '8410', PORT_RANGE_END: '8419', PREVIEW_MODE: 'direct' };
const HEALTH_INTERVAL_MS = 4_000;
/** How long a test waits for the monitor to act: many rounds, so that only a monitor that never acts fails. */
const PATIENCE_MS = 60_000;

const dockerReady = requireDocker('lifecycle-health');

describe.skipIf(!dockerReady)('health monitoring: dead and out-of-memory workspaces', () => {
  const t = useDockerApp({ HEALTH_INTERVAL_MS: String(HEALTH_INTERVAL_MS), ...TEST_ENV });

  async function row(id: string) {
    const [found] = await t.db.query<{ status: string; container_id: string; error_message: string | null; port: number | null }>(
      'SELECT status, container_id, error_message, port FROM workspace_sessions WHERE id = $1',
      [id],
    );
    return found;
  }

  it('a container killed from outside is restarted by the health monitor; killed again, it ends in error and is cleaned up', async () => {
    const { token, session } = await t.runningSession('killed');
    const { container_id: containerId } = await row(session.id);
    const firstStart = (await docker.getContainer(containerId).inspect()).State.StartedAt;

    await docker.getContainer(containerId).kill();
    const killedAt = Date.now();
    // Detected at the monitor's next round, then restarted: the same container runs again. How soon
    // is measured, not asserted: a loaded machine delays a round without the product being wrong.
    expect(
      await eventually(async () => {
        const state = (await docker.getContainer(containerId).inspect()).State;
        return state.Running && state.StartedAt !== firstStart;
      }, PATIENCE_MS, 200),
    ).toBe(true);
    console.log(`[measure] killed container restarted after ${Date.now() - killedAt} ms (health interval ${HEALTH_INTERVAL_MS} ms)`);
    expect(await eventually(async () => (await fetchPreview(session.previewUrl, 1_000)).status === 200, 60_000, 500)).toBe(true);
    console.log(`[measure] dev server answering again ${Date.now() - killedAt} ms after the kill`);
    expect((await row(session.id)).status).toBe('running');
    // The monitor confirms the restart with its own probe (and counts it) before the next kill.
    const metric = async () => (await (await fetch(`${t.baseUrl}/metrics`)).text()).includes('builder_reconcile_actions_total{action="restarted"} 1');
    expect(await eventually(metric, 30_000, 250)).toBe(true);

    // The one restart is spent: a second death ends the session with the reason.
    await docker.getContainer(containerId).kill();
    const secondKill = Date.now();
    expect(await eventually(async () => (await row(session.id)).status === 'error', PATIENCE_MS, 200)).toBe(true);
    console.log(`[measure] second death ended the session after ${Date.now() - secondKill} ms`);
    const ended = await t.api.request('GET', `/workspace/${session.id}/status`, { token });
    expect(ended.body).toMatchObject({ status: 'error', port: null, previewUrl: null });
    expect(ended.body.errorMessage).toMatch(/exited.*already been restarted once/);
    expect(await leftoversOf([session.id])).toEqual({ containers: [], volumes: [] });
    expect(await portIsBound(session.port)).toBe(false);
  });

  it('a workspace whose memory runs out (OOM kill) is marked error with a message saying so', async () => {
    const { token, session } = await t.runningSession('oom');
    const { container_id: containerId } = await row(session.id);
    const runtime = t.app.get<WorkspaceRuntime>(WORKSPACE_RUNTIME);
    // A memory hog inside the workspace, as a user's code could be; the kernel's OOM killer ends it.
    const hog = await runtime.exec(containerId, ['node', '-e', 'const a=[];for(;;)a.push(Buffer.alloc(1<<20,1))'], {
      timeoutMs: 60_000,
    });
    const hogEndedAt = Date.now();
    // SIGKILL from the OOM killer. The dev server survives it (Docker's OOMKilled flag stays false):
    // the monitor learns of it from the engine's `oom` events.
    expect(hog.exitCode).toBe(137);
    expect(await eventually(async () => (await row(session.id)).status === 'error', PATIENCE_MS, 200)).toBe(true);
    console.log(`[measure] out-of-memory workspace marked error ${Date.now() - hogEndedAt} ms after the OOM kill`);
    const ended = await t.api.request('GET', `/workspace/${session.id}/status`, { token });
    expect(ended.body.status).toBe('error');
    expect(ended.body.errorMessage).toMatch(/out of memory.*512 MB memory limit.*OOM killer/);
    expect(await leftoversOf([session.id])).toEqual({ containers: [], volumes: [] });

    const metrics = await (await fetch(`${t.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/builder_reconcile_actions_total\{action="oom"\} 1/);
  });
});

import { describe, expect, it } from 'vitest';
import { requireDocker } from '../support/docker';
import { useDockerApp } from '../support/docker-app';
import { startTestApp } from '../support/test-app';

// Ports of this file: 8330-8334.
const PORT_RANGE = { PORT_RANGE_START: '8330', PORT_RANGE_END: '8334' };

const dockerReady = requireDocker('observability');

describe.skipIf(!dockerReady)('health, readiness and metrics', () => {
  const t = useDockerApp(PORT_RANGE);

  it('answers liveness and readiness at the root, without auth', async () => {
    const live = await fetch(`${t.baseUrl}/health`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${t.baseUrl}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'ready',
      checks: { database: { ok: true }, runtime: { ok: true, kind: 'docker' } },
    });
  });

  it('reports not ready with the reason when the engine does not answer', async () => {
    const broken = await startTestApp({
      DATABASE_URL: t.db.url,
      RUNTIME: 'docker',
      DOCKER_SOCKET: '/tmp/no-such-docker-engine.sock',
      ...PORT_RANGE,
    });
    try {
      const ready = await fetch(`${broken.baseUrl}/health/ready`);
      expect(ready.status).toBe(503);
      const body = (await ready.json()) as { checks: { runtime: { ok: boolean; message: string } } };
      expect(body.checks.runtime.ok).toBe(false);
      expect(body.checks.runtime.message).toMatch(/does not answer/);
    } finally {
      await broken.close();
    }
  });

  it('exposes sessions by status, create durations, port use and per-workspace CPU and memory', async () => {
    const { token, session } = await t.runningSession('metrics');

    const res = await fetch(`${t.baseUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/builder_workspace_sessions\{status="running"\} 1/);
    expect(text).toMatch(/builder_workspace_create_duration_seconds_count 1/);
    expect(text).toMatch(/builder_port_pool_in_use_ratio 0\.2/);
    expect(text).toMatch(new RegExp(`builder_workspace_memory_bytes\\{session_id="${session.id}"\\} [1-9]`));
    expect(text).toMatch(new RegExp(`builder_workspace_cpu_percent\\{session_id="${session.id}"\\}`));
    expect(text).toMatch(/builder_reconcile_actions_total|builder_api_process_cpu_seconds_total/);

    expect((await t.api.request('DELETE', `/workspace/${session.id}`, { token })).status).toBe(204);
  });
});

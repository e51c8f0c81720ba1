import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ReconcilerService } from '../../src/modules/workspace/lifecycle/reconciler.service';
import { LoopVolumes } from '../../src/shared/runtime/loop-volumes.service';
import { WORKSPACE_RUNTIME, type WorkspaceRuntime } from '../../src/shared/runtime/workspace-runtime.interface';
import { useBackendProcesses } from '../support/backend-process';
import { docker, leftoversOf, requireDocker } from '../support/docker';
import { useDockerApp } from '../support/docker-app';
import { eventually, portIsBound } from '../support/test-app';

// Ports of this file: 8480-8489 (the in-process app), 8490-8494 (the backends killed and restarted).
const MIB = 1024 * 1024;
const LIMIT_MB = 16;
const HEALTH_INTERVAL_MS = 3_000;
const PAGE = 'src/pages/index.astro';

const dockerReady = requireDocker('lifecycle-storage-limit');
// The kernel-enforced part needs root (loop devices); CI runs as root.
const root = process.getuid?.() === 0;
if (!root && process.env.CI === 'true') throw new Error('the storage-limit suite runs as root in CI (loop devices)');

describe.skipIf(!dockerReady)(`the ${LIMIT_MB} MiB storage limit of a workspace`, () => {
  const t = useDockerApp({
    PORT_RANGE_START: '8480',
    PORT_RANGE_END: '8489',
    WORKSPACE_STORAGE_LIMIT_MB: String(LIMIT_MB),
    // One write can then be larger than the room left below the limit.
    MAX_FILE_BYTES: String(8 * MIB),
    HEALTH_INTERVAL_MS: String(HEALTH_INTERVAL_MS),
  });

  async function row(id: string) {
    const [found] = await t.db.query<{ status: string; container_id: string; error_message: string | null; port: number | null }>(
      'SELECT status, container_id, error_message, port FROM workspace_sessions WHERE id = $1',
      [id],
    );
    return found;
  }

  it.skipIf(!root)('each workspace volume is its own ext4 file system on a loop device (kernel-enforced)', async () => {
    const { session } = await t.runningSession('ext4');
    const [volume] = (await leftoversOf([session.id])).volumes;
    expect((await docker.getVolume(volume).inspect()).Options).toMatchObject({ type: 'ext4', device: expect.stringMatching(/^\/dev\/loop\d+$/) });
    expect((await leftoversOf([session.id])).volumes).toEqual([
      volume,
      expect.stringMatching(new RegExp(`^/dev/loop\\d+ \\(.*/${session.id}\\.ext4\\)$`)),
      expect.stringMatching(new RegExp(`/${session.id}\\.ext4$`)),
    ]);
  });

  it('a write that would take the files over the limit answers 413 with the limit and the use, and the file stays as it was', async () => {
    const { token, session } = await t.runningSession('quota');
    const runtime = t.app.get<WorkspaceRuntime>(WORKSPACE_RUNTIME);
    const { container_id: containerId } = await row(session.id);
    const original = await t.api.request('GET', `/workspace/${session.id}/files/${PAGE}`, { token });
    expect(original.status).toBe(200);

    // Fill from inside to ~3 MiB below the limit: still under it, so the health monitor lets it be.
    const fillMb = Math.floor((LIMIT_MB * MIB - (await runtime.diskUsage(containerId)).usedBytes) / MIB) - 3;
    const fill = await runtime.exec(containerId, ['dd', 'if=/dev/zero', 'of=/app/fill.bin', 'bs=1048576', `count=${fillMb}`], { timeoutMs: 60_000 });
    expect(fill.exitCode, fill.stderr).toBe(0);

    const tooBig = `${original.body.content}\n<!-- ${'x'.repeat(4 * MIB)} -->\n`;
    const refused = await t.api.request('PUT', `/workspace/${session.id}/files/${PAGE}`, { token, body: { content: tooBig } });
    expect(refused.status).toBe(413);
    expect(refused.body).toMatchObject({ statusCode: 413, error: 'Payload Too Large', path: `/api/v1/workspace/${session.id}/files/${PAGE}` });
    expect(refused.body.message).toMatch(
      new RegExp(`^storage limit exceeded: the workspace's files use 1\\d(\\.\\d)? MiB of ${LIMIT_MB} MiB and this write adds 4 MiB; delete files or write less$`),
    );
    // Nothing half-written: the file is what it was.
    const after = await t.api.request('GET', `/workspace/${session.id}/files/${PAGE}`, { token });
    expect(after.body.content).toBe(original.body.content);

    // An edit batch is checked whole: two writes that each fit but not together, nothing written.
    const half = 'y'.repeat(2.5 * MIB);
    const batch = await t.api.request('POST', `/workspace/${session.id}/edits`, {
      token,
      body: { writes: [{ path: 'src/a.txt', content: half }, { path: 'src/b.txt', content: half }] },
    });
    expect(batch.status, batch.text).toBe(413);
    expect(batch.body.message).toMatch(/this write adds 5 MiB/);
    for (const path of ['src/a.txt', 'src/b.txt']) {
      expect((await t.api.request('GET', `/workspace/${session.id}/files/${path}`, { token })).status).toBe(404);
    }

    // A write that fits still goes through.
    const small = await t.api.request('PUT', `/workspace/${session.id}/files/${PAGE}`, {
      token,
      body: { content: `${original.body.content}\n<!-- fits -->\n` },
    });
    expect(small.status).toBe(200);
    expect((await row(session.id)).status).toBe('running');
  });

  it('a workspace filled from inside past the limit is ended within one health interval, saying so, with everything freed', async () => {
    const { token, session } = await t.runningSession('filled');
    const runtime = t.app.get<WorkspaceRuntime>(WORKSPACE_RUNTIME);
    const { container_id: containerId } = await row(session.id);
    // Past the limit, below the file system's end (the kernel stops writers ~64 MiB later).
    const fill = await runtime.exec(containerId, ['dd', 'if=/dev/zero', 'of=/app/cache.bin', 'bs=1048576', `count=${LIMIT_MB + 8}`], {
      timeoutMs: 60_000,
    });
    expect(fill.exitCode, fill.stderr).toBe(0);
    const filledAt = Date.now();

    expect(await eventually(async () => (await row(session.id)).status === 'error', HEALTH_INTERVAL_MS * 2 + 5_000, 200)).toBe(true);
    console.log(`[measure] over-limit workspace ended ${Date.now() - filledAt} ms after the fill (health interval ${HEALTH_INTERVAL_MS} ms)`);
    const ended = await t.api.request('GET', `/workspace/${session.id}/status`, { token });
    expect(ended.body).toMatchObject({ status: 'error', port: null, previewUrl: null });
    expect(ended.body.errorMessage).toMatch(new RegExp(`^storage limit exceeded \\(2\\d(\\.\\d)? MiB of ${LIMIT_MB} MiB\\)$`));
    expect(await leftoversOf([session.id])).toEqual({ containers: [], volumes: [] });
    expect(await portIsBound(session.port)).toBe(false);
    const metrics = await (await fetch(`${t.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/builder_reconcile_actions_total\{action="storage"\} 1/);
  });

  it.skipIf(!root)('reconciliation releases a file system left without a session (a crash between image and volume)', async () => {
    const orphan = randomUUID();
    t.sessionIds.add(orphan);
    const loops = t.app.get(LoopVolumes);
    await loops.attach(orphan, LIMIT_MB * MIB);
    expect((await leftoversOf([orphan])).volumes).toHaveLength(2); // its loop device and its image
    const report = await t.app.get(ReconcilerService).run();
    expect(report).toMatchObject({ 'orphan-volume': 1 });
    expect(await leftoversOf([orphan])).toEqual({ containers: [], volumes: [] });
  });
});

describe.skipIf(!dockerReady || !root)('kill -9 of the backend while workspaces start: their file systems are released after a restart', () => {
  const backends = useBackendProcesses('storage', {
    PORT_RANGE_START: '8490',
    PORT_RANGE_END: '8494',
    MAX_SESSIONS_PER_USER: '3',
    START_CONCURRENCY: '3',
    WORKSPACE_STORAGE_HARD_LIMIT: 'loop',
  });
  const { sessionIds } = backends;
  const startBackend = (extra: Record<string, string> = {}) => backends.start(extra);

  it('leaves no loop device and no image behind', async () => {
    const first = await startBackend();
    const user = await first.api.newUser('storage-crash');
    const created = await Promise.all(
      [1, 2, 3].map(() => first.api.request('POST', '/workspace/create', { token: user.token, body: {} })),
    );
    for (const answer of created) {
      expect(answer.status).toBe(201);
      sessionIds.add(answer.body.id);
    }
    // Killed once every session has its file system attached, before they are all ready.
    const attached = await eventually(
      async () => (await leftoversOf(sessionIds)).volumes.filter((v) => v.startsWith('/dev/loop')).length === sessionIds.size,
      30_000,
      50,
    );
    expect(attached).toBe(true);
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    const held = (await leftoversOf(sessionIds)).volumes.filter((v) => v.startsWith('/dev/loop'));
    expect(held.length).toBe(sessionIds.size);

    const second = await startBackend({ STUCK_CREATING_MS: '2000', RECONCILE_INTERVAL_MS: '2000' });
    // Sessions that were ready before the kill keep running; the owner ends them. The rest are
    // finished by reconciliation as stuck, their workspaces removed.
    const settled = await eventually(async () => {
      const [{ count }] = await backends.db.query<{ count: string }>(`SELECT count(*) FROM workspace_sessions WHERE status IN ('creating', 'stopping')`);
      return Number(count) === 0;
    }, 60_000, 500);
    expect(settled).toBe(true);
    const rows = await backends.db.query<{ id: string; status: string }>('SELECT id, status FROM workspace_sessions');
    for (const { id, status } of rows) {
      if (status === 'running') expect((await second.api.request('DELETE', `/workspace/${id}`, { token: user.token })).status).toBe(204);
    }
    expect(rows.some((r) => r.status === 'error')).toBe(true);
    expect(await eventually(async () => {
      const left = await leftoversOf(sessionIds);
      return left.containers.length === 0 && left.volumes.length === 0;
    }, 30_000, 500)).toBe(true);
    second.child.kill('SIGTERM');
    await new Promise((r) => second.child.once('exit', r));
  });
});

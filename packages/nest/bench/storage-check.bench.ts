/**
 * What the storage check adds to a file PUT. One running workspace per way of measuring its disk
 * use: its own ext4 file system (statfs before every write; needs root), a plain volume (a walk of
 * the files, then the last figure plus the bytes written since), and `du` inside the workspace
 * (a remote engine). Prints medians of the check alone (WorkspaceStorageService.reserve, in
 * process), of one measurement, and of a whole PUT through the API; asserts nothing about timing.
 * Ports 8480-8489 (the storage tests' range: never run beside the tests).
 *
 *   npx vitest run -c bench/vitest.bench.config.ts bench/storage-check.bench.ts
 */
import { performance } from 'node:perf_hooks';
import { expect, it } from 'vitest';
import { WorkspaceStorageService } from '../src/modules/workspace/workspace-storage.service';
import { DockerRuntime } from '../src/shared/runtime/docker.runtime';
import { RUNTIME_OPTIONS, type RuntimeOptions } from '../src/shared/runtime/runtime-options';
import { DockerService } from '../src/shared/services/docker.service';
import { LoopVolumes } from '../src/shared/runtime/loop-volumes.service';
import { WORKSPACE_RUNTIME, type WorkspaceRuntime } from '../src/shared/runtime/workspace-runtime.interface';
import { DOCKER_SOCKET, TEMPLATE_IMAGE, removeLeftovers } from '../test/support/docker';
import { createTestDatabase } from '../test/support/test-database';
import { startTestApp } from '../test/support/test-app';

const RUNS = Number(process.env.BENCH_RUNS ?? 200);
const PUTS = Number(process.env.BENCH_PUTS ?? 60);
const FILE = 'src/styles/theme.css';

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const us = (ms: number) => `${Math.round(ms * 1000)} µs`;

async function timed(times: number, run: () => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < times; i++) {
    const started = performance.now();
    await run();
    samples.push(performance.now() - started);
  }
  return samples;
}

it('storage check per PUT', async () => {
  const db = await createTestDatabase();
  const sessionIds: string[] = [];
  const rows: string[] = [];
  try {
    for (const hardLimit of ['auto', 'off'] as const) {
      const t = await startTestApp({
        DATABASE_URL: db.url,
        RUNTIME: 'docker',
        DOCKER_SOCKET,
        TEMPLATE_IMAGE,
        PORT_RANGE_START: '8480',
        PORT_RANGE_END: '8489',
        WORKSPACE_STORAGE_HARD_LIMIT: hardLimit,
      });
      try {
        const user = await t.api.newUser('bench-storage');
        const created = await t.api.request('POST', '/workspace/create', { token: user.token, body: {} });
        sessionIds.push(created.body.id);
        expect((await t.api.waitForSettled(user.token, created.body.id)).status).toBe('running');
        const [{ container_id: containerId }] = await db.query<{ container_id: string }>(
          'SELECT container_id FROM workspace_sessions WHERE id = $1',
          [created.body.id],
        );
        const runtime = t.app.get<WorkspaceRuntime>(WORKSPACE_RUNTIME);
        const storage = t.app.get(WorkspaceStorageService);
        const content = (await t.api.request('GET', `/workspace/${created.body.id}/files/${FILE}`, { token: user.token })).body.content as string;
        const bytes = Buffer.byteLength(content);

        const ways: Array<[string, WorkspaceRuntime]> = [[hardLimit === 'auto' ? 'own ext4 (statfs)' : 'plain volume (walk)', runtime]];
        if (hardLimit === 'off') {
          const options = t.app.get<RuntimeOptions>(RUNTIME_OPTIONS);
          ways.push(['du in the workspace', new DockerRuntime({ ...options, hostVolumeWrites: false }, new DockerService(options), new LoopVolumes(options))]);
        }
        for (const [label, measuring] of ways) {
          const first = await measuring.diskUsage(containerId);
          const measure = median(await timed(Math.min(RUNS, 50), () => measuring.diskUsage(containerId)));
          rows.push(`${label}: one measurement ${us(measure)} (cheap: ${first.cheap}, ${Math.round(first.usedBytes / 1024)} KiB in use)`);
        }
        await storage.measure(created.body.id, containerId);
        const check = median(await timed(RUNS, () => storage.reserve(created.body.id, containerId, bytes)));
        // Whole PUTs, the same file rewritten with its own content, on a keep-alive client.
        const put = () => t.api.request('PUT', `/workspace/${created.body.id}/files/${FILE}`, { token: user.token, body: { content } });
        await timed(5, put);
        const puts = median(await timed(PUTS, put));
        rows.push(
          `${ways[0][0]}: the check ${us(check)} per PUT (median of ${RUNS}); a whole PUT ${puts.toFixed(2)} ms (median of ${PUTS}); ` +
            `the check is ${((check / puts) * 100).toFixed(1)}% of it`,
        );
        await t.api.request('DELETE', `/workspace/${created.body.id}`, { token: user.token });
      } finally {
        await t.close();
      }
    }
  } finally {
    await removeLeftovers(sessionIds);
    await db.drop();
  }
  for (const row of rows) console.log(`[bench] ${row}`);
});

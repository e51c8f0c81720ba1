/**
 * Create → running through the real API, on Docker (PostgreSQL) and on the local runtime (embedded
 * database), sequentially; then a batch of concurrent creates with START_CONCURRENCY 2 against
 * unbounded. Prints medians; asserts nothing about timing. Ports 8020-8039.
 *
 *   npx vitest run -c bench/vitest.bench.config.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { DOCKER_SOCKET, TEMPLATE_IMAGE, removeLeftovers } from '../test/support/docker';
import { createTestDatabase } from '../test/support/test-database';
import { startTestApp, type TestApp } from '../test/support/test-app';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const BATCH = Number(process.env.BENCH_BATCH ?? 6);
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : Math.round((sorted[mid - 1] + sorted[mid]) / 2);
};

async function createToRunning(t: TestApp, token: string): Promise<{ id: string; ms: number }> {
  const startedAt = Date.now();
  const created = await t.api.request('POST', '/workspace/create', { token });
  expect(created.status, created.text).toBe(201);
  const settled = await t.api.waitForSettled(token, created.body.id, 600_000);
  expect(settled.status, settled.errorMessage).toBe('running');
  return { id: created.body.id, ms: Date.now() - startedAt };
}

async function sequential(t: TestApp, label: string): Promise<number[]> {
  const user = await t.api.newUser('bench');
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const { id, ms } = await createToRunning(t, user.token);
    times.push(ms);
    await t.api.request('DELETE', `/workspace/${id}`, { token: user.token });
  }
  console.log(`[bench] ${label}: create → running median ${median(times)} ms (runs: ${times.join(', ')})`);
  return times;
}

async function batch(dbUrl: string, concurrency: number): Promise<{ total: number; median: number }> {
  const t = await startTestApp({
    DATABASE_URL: dbUrl,
    RUNTIME: 'docker',
    DOCKER_SOCKET,
    TEMPLATE_IMAGE,
    START_CONCURRENCY: String(concurrency),
    MAX_SESSIONS_PER_USER: String(BATCH),
    START_TIMEOUT_MS: '600000',
    PORT_RANGE_START: '8020',
    PORT_RANGE_END: '8039',
  });
  const ids: string[] = [];
  try {
    const user = await t.api.newUser('batch');
    const startedAt = Date.now();
    const results = await Promise.all(Array.from({ length: BATCH }, () => createToRunning(t, user.token)));
    const total = Date.now() - startedAt;
    ids.push(...results.map((r) => r.id));
    await Promise.all(ids.map((id) => t.api.request('DELETE', `/workspace/${id}`, { token: user.token })));
    return { total, median: median(results.map((r) => r.ms)) };
  } finally {
    await t.close();
    await removeLeftovers(ids);
  }
}

it('create → running', async () => {
  const db = await createTestDatabase();
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-'));
  try {
    const docker = await startTestApp({
      DATABASE_URL: db.url,
      RUNTIME: 'docker',
      DOCKER_SOCKET,
      TEMPLATE_IMAGE,
      PORT_RANGE_START: '8020',
      PORT_RANGE_END: '8039',
    });
    const dockerTimes = await sequential(docker, 'docker + PostgreSQL');
    await docker.close();

    const local = await startTestApp({
      DATABASE_URL: undefined,
      DATA_DIR: dataDir,
      RUNTIME: 'local',
      PORT_RANGE_START: '8020',
      PORT_RANGE_END: '8039',
    });
    const localTimes = await sequential(local, 'local + embedded PGlite');
    await local.close();
    console.log(`[bench] local/docker median ratio ${(median(localTimes) / median(dockerTimes)).toFixed(2)}`);

    const queued = await batch(db.url, 2);
    const unbounded = await batch(db.url, BATCH);
    console.log(
      `[bench] ${BATCH} concurrent creates on docker: START_CONCURRENCY 2 → all running after ${queued.total} ms ` +
        `(median per session ${queued.median} ms); START_CONCURRENCY ${BATCH} → ${unbounded.total} ms ` +
        `(median ${unbounded.median} ms); total ratio ${(queued.total / unbounded.total).toFixed(2)}`,
    );
  } finally {
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

import { beforeAll, describe, expect, it } from 'vitest';
import { JobLock } from '../../src/modules/workspace/lifecycle/job-lock.service';
import { SessionCleanupService } from '../../src/modules/workspace/lifecycle/session-cleanup.service';
import { leftoversOf, requireDocker } from '../support/docker';
import { useDockerApp } from '../support/docker-app';
import { portIsBound, type TestApp } from '../support/test-app';

// Ports of this file: 8460-8464 (the two apps share the database, hence the range).
const PORT_RANGE = { PORT_RANGE_START: '8460', PORT_RANGE_END: '8464' };

const dockerReady = requireDocker('lifecycle-cleanup-and-lock');

describe.skipIf(!dockerReady)('clean-up is idempotent and concurrent-safe; jobs run once across processes', () => {
  const a = useDockerApp(PORT_RANGE);
  let b: TestApp;

  beforeAll(async () => {
    b = await a.startApp();
  });

  it('two processes: a job guarded by the advisory lock runs in one of them at a time', async () => {
    const locks = [a.app.get(JobLock), b.app.get(JobLock)];
    const attempts = 2 * locks.length;
    let inside = 0;
    let maxInside = 0;
    let answered = 0;
    // The job holds the lock until every other attempt has answered, however slow the machine: no
    // attempt can come after the holder let go and pass for a second holder.
    let allAnswered!: () => void;
    const everyoneAnswered = new Promise<void>((resolve) => (allAnswered = resolve));
    const check = () => {
      if (answered + inside === attempts) allAnswered();
    };
    const job = async () => {
      inside++;
      maxInside = Math.max(maxInside, inside);
      check();
      await everyoneAnswered;
      inside--;
    };
    const ran = await Promise.all(
      [...locks, ...locks].map((lock) =>
        lock.runExclusive('test-job', job).finally(() => {
          answered++;
          check();
        }),
      ),
    );
    expect(ran.filter(Boolean)).toHaveLength(1);
    expect(maxInside).toBe(1);
    // Released with its transaction: the next round runs again.
    expect(await locks[1].runExclusive('test-job', job)).toBe(true);
  });

  it('ending a session from both processes and its owner at once: one final status, nothing left', async () => {
    const { token, session: running } = await a.runningSession('cleanup');

    const outcomes = await Promise.all([
      a.app.get(SessionCleanupService).end(running.id, 'error', 'test: ended by process A'),
      b.app.get(SessionCleanupService).end(running.id, 'error', 'test: ended by process B'),
      a.app.get(SessionCleanupService).end(running.id, 'error', 'test: ended by process A again'),
    ]);
    expect(outcomes.filter(Boolean)).toHaveLength(1);
    const [row] = await a.db.query<{ status: string; port: number | null; error_message: string }>(
      'SELECT status, port, error_message FROM workspace_sessions WHERE id = $1',
      [running.id],
    );
    expect(row.status).toBe('error');
    expect(row.port).toBeNull();
    expect(row.error_message).toMatch(/^test: ended by process/);
    expect(await leftoversOf([running.id])).toEqual({ containers: [], volumes: [] });
    expect(await portIsBound(running.port)).toBe(false);

    // Twice more, and the owner's DELETE: no error, nothing changes but the owner's final word.
    expect(await b.app.get(SessionCleanupService).end(running.id, 'error', 'again')).toBe(false);
    expect((await a.api.request('DELETE', `/workspace/${running.id}`, { token })).status).toBe(204);
    const after = await a.api.request('GET', `/workspace/${running.id}/status`, { token });
    expect(after.body.status).toBe('stopped');
  });
});

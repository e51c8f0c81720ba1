import { setTimeout as sleep } from 'node:timers/promises';
import type { HttpProbe } from '../../../shared/runtime/http-probe.service';
import type { WorkspaceAddress } from '../../../shared/runtime/workspace-runtime.interface';

const POLL_MS = 25;
/** Bound of one render: a page rebuilt from changed modules can take seconds under a CPU quota. */
const RENDER_TIMEOUT_MS = 15_000;

/**
 * Lays a project out in a pooled dev server that already rendered the template's page, and makes
 * sure the page it serves next is the project's. The dev server learns of changed files from its
 * file watcher, asynchronously (a few ms); a request that came first would get the page built from
 * the template's modules. Its HMR socket says nothing when no browser has loaded the page, so the
 * page itself is the witness: rendered before the change and again after it until it differs; the
 * same page for `timeoutMs` means the dev server is not seeing the change (or the change does not
 * show on it). The last render also builds the project's page for the user's first request.
 * Nothing is waited for when no source module changed (only public files, or nothing).
 */
export async function layOutInRunningDevServer<T>(
  probe: HttpProbe,
  address: WorkspaceAddress,
  change: () => Promise<T>,
  changedPaths: (result: T) => string[],
  timeoutMs: number,
): Promise<{ result: T; confirmed: boolean }> {
  const url = `http://${address.host}:${address.port}/`;
  const render = async (): Promise<string | null> => {
    const answer = await probe.get(url, { timeoutMs: RENDER_TIMEOUT_MS, keepBody: true });
    return answer.status === null ? null : `${answer.status}\n${answer.body ?? ''}`;
  };
  const before = await render();
  const result = await change();
  if (!changedPaths(result).some((path) => path.startsWith('src/'))) return { result, confirmed: true };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const after = await render();
    if (after !== null && after !== before) return { result, confirmed: true };
    if (Date.now() >= deadline) return { result, confirmed: false };
    await sleep(POLL_MS);
  }
}

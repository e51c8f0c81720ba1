import type { WorkspaceAddress } from '../../../shared/runtime/workspace-runtime.interface';
import { ViteHmrClient } from './vite-hmr.client';

/**
 * Runs `change` while listening on a dev server's HMR socket and, when `changed(result)` says files
 * changed, resolves once the dev server has reported an update after it (it saw the change: a page
 * requested now is built from the new files), or after `timeoutMs` (the change touched nothing the
 * dev server had loaded). Answers `change`'s result and whether an update was seen. The socket is
 * closed in every case.
 */
export async function withHmrConfirmation<T>(
  address: WorkspaceAddress,
  change: () => Promise<T>,
  changed: (result: T) => boolean,
  timeoutMs: number,
): Promise<{ result: T; confirmed: boolean }> {
  let onConnected: () => void = () => undefined;
  let onUpdate: () => void = () => undefined;
  const connected = new Promise<void>((resolve) => (onConnected = resolve));
  const updated = new Promise<void>((resolve) => (onUpdate = resolve));
  let listening = false;
  const client = new ViteHmrClient({
    host: address.host,
    port: address.port,
    reconnectDelayMs: 50,
    onMessage: (message) => {
      if (message.type === 'connected') onConnected();
      else if (message.type === 'update' && listening) onUpdate();
    },
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>(
    (resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)),
  );
  try {
    client.connect();
    // Without the socket the wait proves nothing: go on after the bound either way.
    await Promise.race([connected, timeout]);
    listening = true;
    const result = await change();
    if (!changed(result)) return { result, confirmed: true };
    const outcome = await Promise.race([updated.then(() => 'updated' as const), timeout]);
    return { result, confirmed: outcome === 'updated' };
  } finally {
    clearTimeout(timer);
    client.close();
  }
}

import type { ConnectionStatus } from '@builder/shared';

const STYLES: Record<ConnectionStatus, { dot: string; label: string }> = {
  connecting: { dot: 'bg-amber-400', label: 'Connecting' },
  connected: { dot: 'bg-emerald-500', label: 'Live' },
  reconnecting: { dot: 'bg-amber-400 animate-pulse', label: 'Reconnecting' },
  disconnected: { dot: 'bg-gray-400', label: 'Offline' },
};

/** State of the tab's socket to the workspace gateway. */
export function ConnectionIndicator({ state }: { state: ConnectionStatus }) {
  const style = STYLES[state];
  return (
    <span className="inline-flex items-center gap-1.5 text-xs text-gray-600" title={`Socket: ${state}`}>
      <span className={`h-2 w-2 rounded-full ${style.dot}`} aria-hidden />
      <span data-testid="connection-state" data-state={state}>
        {style.label}
      </span>
    </span>
  );
}

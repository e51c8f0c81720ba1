import type { ReactNode } from 'react';
import type { ConnectionStatus, WorkspaceSession } from '@builder/shared';
import { ConnectionIndicator } from './connection-indicator';
import { DEVICES, type Device } from './device';
import { SessionStatus } from './session-status';

export interface WorkspaceToolbarProps {
  workspace: WorkspaceSession | null;
  connectionState: ConnectionStatus;
  busy: boolean;
  device: Device;
  onDeviceChange: (device: Device) => void;
  onReload: () => void;
  onRestart: () => void;
  onSignOut: () => void;
  /** The project's own controls (switcher, download), next to the title. */
  projectControls?: ReactNode;
}

export const TOOLBAR_BUTTON =
  'rounded-md border border-gray-300 bg-white px-2.5 py-1 text-xs font-medium text-gray-700 hover:bg-gray-50 disabled:opacity-50';

/** The project's controls, status of the session and socket, device simulation, Reload / Restart. */
export function WorkspaceToolbar(props: WorkspaceToolbarProps) {
  const { workspace, connectionState, busy, device } = props;
  const canReload = workspace?.status === 'running' && workspace.previewUrl !== null;

  return (
    <header className="flex flex-wrap items-center gap-x-4 gap-y-2 border-b border-gray-200 bg-white px-4 py-2">
      <span className="text-sm font-semibold">Landing Builder</span>
      {props.projectControls}
      <SessionStatus workspace={workspace} />
      <ConnectionIndicator state={connectionState} />
      {workspace?.previewUrl && (
        <a
          href={workspace.previewUrl}
          target="_blank"
          rel="noreferrer"
          className="hidden truncate font-mono text-xs text-gray-500 hover:underline lg:inline"
          data-testid="preview-url"
        >
          {workspace.previewUrl}
        </a>
      )}
      <div className="ml-auto flex items-center gap-2">
        <div
          className="flex overflow-hidden rounded-md border border-gray-300"
          role="group"
          aria-label="Device"
        >
          {DEVICES.map((option) => (
            <button
              key={option}
              type="button"
              onClick={() => props.onDeviceChange(option)}
              aria-pressed={device === option}
              className={`px-2.5 py-1 text-xs capitalize ${
                device === option ? 'bg-gray-900 text-white' : 'bg-white text-gray-700 hover:bg-gray-50'
              }`}
              data-testid={`device-${option}`}
            >
              {option}
            </button>
          ))}
        </div>
        <button
          type="button"
          onClick={props.onReload}
          disabled={!canReload}
          className={TOOLBAR_BUTTON}
          data-testid="preview-reload"
        >
          Reload
        </button>
        <button
          type="button"
          onClick={props.onRestart}
          disabled={busy}
          className={TOOLBAR_BUTTON}
          data-testid="workspace-restart"
        >
          Restart
        </button>
        <button type="button" onClick={props.onSignOut} className={TOOLBAR_BUTTON} data-testid="sign-out">
          Sign out
        </button>
      </div>
    </header>
  );
}

import type { WorkspaceSession, WorkspaceStatus } from '@builder/shared';

const COLORS: Record<WorkspaceStatus, string> = {
  creating: 'bg-amber-100 text-amber-800',
  running: 'bg-emerald-100 text-emerald-800',
  stopping: 'bg-gray-100 text-gray-700',
  stopped: 'bg-gray-100 text-gray-700',
  error: 'bg-red-100 text-red-800',
};

/** The session's raw status, as the API reports it ("none" before a session exists). */
export function SessionStatus({ workspace }: { workspace: WorkspaceSession | null }) {
  const color = workspace ? COLORS[workspace.status] : 'bg-gray-100 text-gray-500';
  return (
    <span className="inline-flex items-center gap-1.5 text-xs text-gray-600">
      Session
      <span className={`rounded px-1.5 py-0.5 font-mono ${color}`} data-testid="session-status">
        {workspace?.status ?? 'none'}
      </span>
    </span>
  );
}

'use client';

import { useEffect, useState } from 'react';
import { WorkspaceStatus, type BuildStatusEvent, type WorkspaceSession } from '@builder/shared';
import { BuildSteps } from './build-steps';
import { DEVICE_WIDTHS, type Device } from './device';
import { PreviewErrorBoundary } from './preview-error-boundary';

export interface WorkspacePreviewProps {
  workspace: WorkspaceSession | null;
  isLoading: boolean;
  error: Error | null;
  buildSteps: BuildStatusEvent[];
  /** Retry after a failed start: creates the workspace again. */
  onRetry: () => void;
  device?: Device;
  /** Changing it remounts the iframe, i.e. reloads the preview. */
  reloadKey?: number;
}

// After this long without a load event the user gets a hint to reload.
const SLOW_LOAD_MS = 20_000;

/**
 * The workspace's dev server in an iframe. The preview is served from another origin than the app,
 * so `allow-same-origin` gives the page its own origin's storage, not access to the app.
 */
export function WorkspacePreview({ onRetry, reloadKey = 0, ...props }: WorkspacePreviewProps) {
  const [boundaryKey, setBoundaryKey] = useState(0);
  const retry = (): void => {
    setBoundaryKey((key) => key + 1);
    onRetry();
  };

  return (
    <PreviewErrorBoundary
      resetKey={`${reloadKey}:${boundaryKey}`}
      fallback={(caught) => <PreviewError message={caught.message} onRetry={retry} />}
    >
      <PreviewContent {...props} reloadKey={reloadKey} onRetry={retry} />
    </PreviewErrorBoundary>
  );
}

function PreviewContent({
  workspace,
  isLoading,
  error,
  buildSteps,
  onRetry,
  device = 'desktop',
  reloadKey,
}: WorkspacePreviewProps) {
  if (error || workspace?.status === WorkspaceStatus.Error) {
    const message = error?.message ?? workspace?.errorMessage ?? 'The workspace failed to start';
    return <PreviewError message={message} onRetry={onRetry} />;
  }
  if (workspace?.status === WorkspaceStatus.Running && workspace.previewUrl) {
    return <PreviewFrame key={`${workspace.id}:${reloadKey}`} url={workspace.previewUrl} device={device} />;
  }
  if (workspace?.status === WorkspaceStatus.Stopped || workspace?.status === WorkspaceStatus.Stopping) {
    return (
      <PreviewMessage
        title="The workspace has stopped"
        actionLabel="Start a new workspace"
        onAction={onRetry}
      />
    );
  }
  if (!workspace && !isLoading) {
    return <PreviewMessage title="No workspace" actionLabel="Create workspace" onAction={onRetry} />;
  }
  return <PreviewLoading buildSteps={buildSteps} />;
}

function PreviewFrame({ url, device }: { url: string; device: Device }) {
  const [loaded, setLoaded] = useState(false);
  const [slow, setSlow] = useState(false);

  useEffect(() => {
    if (loaded) return;
    const timer = setTimeout(() => setSlow(true), SLOW_LOAD_MS);
    return () => clearTimeout(timer);
  }, [loaded]);

  return (
    <div className="relative mx-auto max-w-full bg-white shadow-sm" style={{ width: DEVICE_WIDTHS[device] }}>
      {!loaded && (
        <div className="absolute inset-x-0 top-0 z-10 flex items-center justify-center gap-2 bg-white/90 py-3 text-sm text-gray-600">
          <Spinner />
          {slow ? 'The preview is taking long to answer. Try Reload.' : 'Loading preview…'}
        </div>
      )}
      <iframe
        src={url}
        title="Workspace preview"
        sandbox="allow-scripts allow-same-origin allow-forms"
        style={{ width: '100%', height: '100vh', border: 'none' }}
        onLoad={() => setLoaded(true)}
        data-testid="preview-iframe"
      />
    </div>
  );
}

function PreviewLoading({ buildSteps }: { buildSteps: BuildStatusEvent[] }) {
  return (
    <div className="mx-auto mt-16 w-full max-w-sm rounded-lg border border-gray-200 bg-white p-6 shadow-sm">
      <div className="mb-4 flex items-center gap-2 text-sm font-medium text-gray-800">
        <Spinner />
        Starting your workspace…
      </div>
      <BuildSteps events={buildSteps} />
      <p className="mt-4 text-xs text-gray-500">Starting takes a few seconds; more when many workspaces start at once.</p>
    </div>
  );
}

function PreviewError({ message, onRetry }: { message: string; onRetry: () => void }) {
  return (
    <div
      role="alert"
      className="mx-auto mt-16 w-full max-w-sm rounded-lg border border-red-200 bg-white p-6 shadow-sm"
      data-testid="preview-error"
    >
      <h2 className="text-sm font-semibold text-red-700">The preview could not start</h2>
      <p className="mt-2 break-words text-sm text-gray-700">{message}</p>
      <button
        type="button"
        onClick={onRetry}
        className="mt-4 rounded-md bg-gray-900 px-3 py-1.5 text-sm font-medium text-white hover:bg-gray-700"
        data-testid="preview-retry"
      >
        Retry
      </button>
    </div>
  );
}

function PreviewMessage({
  title,
  actionLabel,
  onAction,
}: {
  title: string;
  actionLabel: string;
  onAction: () => void;
}) {
  return (
    <div className="mx-auto mt-16 w-full max-w-sm rounded-lg border border-gray-200 bg-white p-6 text-center shadow-sm">
      <p className="text-sm text-gray-700">{title}</p>
      <button
        type="button"
        onClick={onAction}
        className="mt-4 rounded-md bg-gray-900 px-3 py-1.5 text-sm font-medium text-white hover:bg-gray-700"
      >
        {actionLabel}
      </button>
    </div>
  );
}

function Spinner() {
  return (
    <span
      className="h-4 w-4 animate-spin rounded-full border-2 border-gray-300 border-t-gray-700"
      aria-hidden
    />
  );
}

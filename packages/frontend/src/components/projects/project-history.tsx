'use client';

import { useState, type ReactNode } from 'react';
import type { ProjectVersion, VersionKind } from '@builder/shared';
import type { UseProjectHistoryResult } from '@/hooks/useProjectHistory';
import { formatBytes, formatDateTime, plural } from '@/lib/format/format';
import { VersionFileViewer } from './version-file-viewer';

const KIND_LABELS: Record<VersionKind, string> = {
  template: 'Template',
  edit: 'Edit',
  snapshot: 'Changes in the workspace',
  restore: 'Restore',
};

/**
 * The History panel: the project's versions, newest first, each with its time and the files it
 * changed; any earlier one can be restored (a new version equal to it) or its files read.
 */
export function ProjectHistory({
  projectId,
  history,
  onRestore,
}: {
  projectId: string | null;
  history: UseProjectHistoryResult;
  /** Restores a version; the caller refreshes what shows the workspace's files. */
  onRestore: (versionId: string) => Promise<void>;
}) {
  const [viewing, setViewing] = useState<string | null>(null);
  const { versions } = history;
  const numberOf = (versionId: string | null): number | undefined =>
    versions.find((v) => v.id === versionId)?.number;

  if (!projectId) return <p className="text-xs text-gray-400">No project open.</p>;

  return (
    <section className="flex flex-col gap-2" data-testid="history-panel">
      <div className="flex items-center justify-between">
        <h2 className="text-xs font-semibold uppercase tracking-wide text-gray-500">History</h2>
        <button
          type="button"
          onClick={() => void history.refresh()}
          disabled={history.isLoading}
          className="text-xs text-gray-500 hover:text-gray-800 disabled:opacity-50"
          data-testid="history-refresh"
        >
          {history.isLoading ? 'Loading…' : 'Refresh'}
        </button>
      </div>
      {history.error && (
        <p role="alert" className="text-xs text-red-600">
          Could not read the history: {history.error.message}
        </p>
      )}
      {history.restoreError && (
        <p role="alert" className="text-xs text-red-600" data-testid="history-restore-error">
          Restore failed: {history.restoreError.message}
        </p>
      )}
      {versions.length === 0 && !history.isLoading && !history.error && (
        <p className="text-xs text-gray-400">No versions yet.</p>
      )}
      <ol className="space-y-2" data-testid="history-versions">
        {versions.map((version, index) => (
          <VersionRow
            key={version.id}
            version={version}
            isCurrent={index === 0}
            restoredFrom={numberOf(version.restoredFromVersionId)}
            restoring={history.restoring}
            viewing={viewing === version.id}
            onView={() => setViewing(viewing === version.id ? null : version.id)}
            onRestore={() => void onRestore(version.id)}
          >
            {viewing === version.id && <VersionFileViewer projectId={projectId} version={version} />}
          </VersionRow>
        ))}
      </ol>
      {history.hasMore && (
        <button
          type="button"
          onClick={() => void history.loadMore()}
          disabled={history.isLoading}
          className="self-center text-xs text-gray-600 hover:text-gray-900 disabled:opacity-50"
          data-testid="history-more"
        >
          Older versions
        </button>
      )}
    </section>
  );
}

function VersionRow({
  version,
  isCurrent,
  restoredFrom,
  restoring,
  viewing,
  onView,
  onRestore,
  children,
}: {
  version: ProjectVersion;
  isCurrent: boolean;
  restoredFrom: number | undefined;
  restoring: string | null;
  viewing: boolean;
  onView: () => void;
  onRestore: () => void;
  children?: ReactNode;
}) {
  const label =
    version.kind === 'restore' && restoredFrom !== undefined
      ? `Restore of v${restoredFrom}`
      : KIND_LABELS[version.kind];
  const changed =
    version.kind === 'template'
      ? plural(version.fileCount, 'file')
      : `${plural(version.filesChanged, 'file')} changed`;

  return (
    <li
      className={`rounded-md border p-2 text-xs ${isCurrent ? 'border-gray-400 bg-gray-50' : 'border-gray-200'}`}
      data-testid="history-version"
      data-version-number={version.number}
      data-version-id={version.id}
    >
      <div className="flex items-baseline gap-2">
        <span className="font-mono font-semibold text-gray-900">v{version.number}</span>
        <span className="font-medium text-gray-700">{label}</span>
        {isCurrent && (
          <span className="rounded bg-emerald-100 px-1 text-[11px] text-emerald-800">current</span>
        )}
        <time className="ml-auto shrink-0 text-gray-500" dateTime={version.updatedAt}>
          {formatDateTime(version.updatedAt)}
        </time>
      </div>
      <p className="mt-1 text-gray-600" data-testid="history-version-changes">
        {changed} · {formatBytes(version.totalSize)}
      </p>
      {version.kind !== 'template' && version.changedPaths.length > 0 && (
        <p className="mt-0.5 truncate font-mono text-gray-500" title={version.changedPaths.join('\n')}>
          {version.changedPaths.join(', ')}
        </p>
      )}
      <div className="mt-2 flex justify-end gap-2">
        <button
          type="button"
          onClick={onView}
          aria-expanded={viewing}
          className="rounded-md border border-gray-300 bg-white px-2 py-0.5 text-gray-700 hover:bg-gray-50"
          data-testid="history-view"
        >
          {viewing ? 'Hide files' : 'View files'}
        </button>
        {!isCurrent && (
          <button
            type="button"
            onClick={onRestore}
            disabled={restoring !== null}
            className="rounded-md bg-gray-900 px-2 py-0.5 font-medium text-white hover:bg-gray-700 disabled:opacity-50"
            data-testid="history-restore"
          >
            {restoring === version.id ? 'Restoring…' : 'Restore'}
          </button>
        )}
      </div>
      {children}
    </li>
  );
}

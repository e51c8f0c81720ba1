'use client';

import { useEffect, useState } from 'react';
import type { ProjectVersion, VersionFileContent } from '@builder/shared';
import { errorMessage, isAbortError } from '@/lib/api/api-error';
import { formatBytes } from '@/lib/format/format';
import { projectsApi } from '@/lib/projects/projects.api';

type Load<T> = { kind: 'loading' } | { kind: 'ready'; value: T } | { kind: 'failed'; message: string };

// The file a person most likely wants to see when the version marks none changed (the template).
const PREFERRED_FILE = 'src/pages/index.astro';

/** A version's files, read-only: pick one, read it as it was in that version. */
export function VersionFileViewer({ projectId, version }: { projectId: string; version: ProjectVersion }) {
  const [files, setFiles] = useState<Load<string[]>>({ kind: 'loading' });
  const [selected, setSelected] = useState<string | null>(null);
  const [file, setFile] = useState<Load<VersionFileContent> | null>(null);
  // The template's version "changes" every file: none is worth marking. Compared by what it
  // holds, since History reads the list anew on every refresh.
  const changedKey = version.kind === 'template' ? '' : version.changedPaths.join('\n');
  const changed = changedKey ? changedKey.split('\n') : [];

  useEffect(() => {
    const abort = new AbortController();
    setFiles({ kind: 'loading' });
    projectsApi()
      .getVersionFiles(projectId, version.id, { signal: abort.signal })
      .then(({ files: entries }) => {
        const paths = entries.map((entry) => entry.path).sort((a, b) => a.localeCompare(b));
        setFiles({ kind: 'ready', value: paths });
        const first = changed.find((path) => paths.includes(path));
        const fallback = first ?? (paths.includes(PREFERRED_FILE) ? PREFERRED_FILE : (paths[0] ?? null));
        setSelected((previous) => (previous && paths.includes(previous) ? previous : fallback));
      })
      .catch((error: unknown) => {
        if (!isAbortError(error)) setFiles({ kind: 'failed', message: errorMessage(error) });
      });
    return () => abort.abort();
    // A version's files change only while quick writes are grouped into it: then updatedAt moves.
  }, [projectId, version.id, version.updatedAt, changedKey]);

  useEffect(() => {
    if (!selected) {
      setFile(null);
      return;
    }
    const abort = new AbortController();
    setFile({ kind: 'loading' });
    projectsApi()
      .readVersionFile(projectId, version.id, selected, { signal: abort.signal })
      .then((value) => setFile({ kind: 'ready', value }))
      .catch((error: unknown) => {
        if (!isAbortError(error)) setFile({ kind: 'failed', message: errorMessage(error) });
      });
    return () => abort.abort();
  }, [projectId, version.id, version.updatedAt, selected]);

  if (files.kind === 'failed') {
    return <p className="mt-2 text-xs text-red-600">Could not list the files: {files.message}</p>;
  }
  return (
    <div className="mt-2 space-y-2" data-testid="version-files">
      <select
        value={selected ?? ''}
        onChange={(e) => setSelected(e.target.value || null)}
        disabled={files.kind !== 'ready'}
        aria-label={`File of version ${version.number}`}
        className="w-full rounded-md border border-gray-300 bg-white px-2 py-1 font-mono text-xs"
        data-testid="version-file-picker"
      >
        {files.kind === 'loading' && <option value="">Loading files…</option>}
        {files.kind === 'ready' &&
          files.value.map((path) => (
            <option key={path} value={path}>
              {path}
              {changed.includes(path) ? ' (changed)' : ''}
            </option>
          ))}
      </select>
      {file?.kind === 'loading' && <p className="text-xs text-gray-400">Reading…</p>}
      {file?.kind === 'failed' && (
        <p className="text-xs text-red-600">Could not read the file: {file.message}</p>
      )}
      {file?.kind === 'ready' &&
        (file.value.encoding === 'utf8' ? (
          <pre
            className="max-h-80 overflow-auto rounded-md border border-gray-200 bg-gray-50 p-2 font-mono text-[11px] leading-4"
            data-testid="version-file-content"
            data-path={file.value.path}
          >
            {file.value.content}
          </pre>
        ) : (
          <p className="text-xs text-gray-500" data-testid="version-file-content" data-path={file.value.path}>
            A binary file of {formatBytes(file.value.size)}.
          </p>
        ))}
    </div>
  );
}

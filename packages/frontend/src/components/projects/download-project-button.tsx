'use client';

import { useEffect, useRef, useState } from 'react';
import type { Project } from '@builder/shared';
import { errorMessage, isAbortError } from '@/lib/api/api-error';
import { projectsApi } from '@/lib/projects/projects.api';
import { TOOLBAR_BUTTON } from '@/components/workspace/workspace-toolbar';

/**
 * Downloads the project's current version as a zip. The export route wants the bearer token, which
 * a plain link cannot send: the archive is fetched, then handed to the browser as a file.
 */
export function DownloadProjectButton({ project }: { project: Project | null }) {
  const [state, setState] = useState<{ kind: 'idle' | 'busy' } | { kind: 'failed'; message: string }>({
    kind: 'idle',
  });
  const abortRef = useRef<AbortController | null>(null);
  useEffect(() => () => abortRef.current?.abort(), []);

  const download = async (): Promise<void> => {
    if (!project) return;
    abortRef.current?.abort();
    const abort = new AbortController();
    abortRef.current = abort;
    setState({ kind: 'busy' });
    try {
      const file = await projectsApi().exportProject(project.id, 'zip', { signal: abort.signal });
      saveFile(file.blob, file.filename ?? `${project.name}.zip`);
      setState({ kind: 'idle' });
    } catch (error) {
      if (!isAbortError(error)) setState({ kind: 'failed', message: errorMessage(error) });
    } finally {
      if (abortRef.current === abort) abortRef.current = null;
    }
  };

  return (
    <button
      type="button"
      onClick={() => void download()}
      disabled={!project || state.kind === 'busy'}
      title={
        state.kind === 'failed'
          ? `Download failed: ${state.message}`
          : 'Download the current version as a zip'
      }
      className={`${TOOLBAR_BUTTON} ${state.kind === 'failed' ? 'border-red-300 text-red-700' : ''}`}
      data-testid="project-download"
      data-state={state.kind}
    >
      {state.kind === 'busy' ? 'Preparing…' : state.kind === 'failed' ? 'Download failed' : 'Download'}
    </button>
  );
}

function saveFile(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  // The browser has taken the file once the click is handled; a moment later the URL can go.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

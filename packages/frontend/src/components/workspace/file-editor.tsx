'use client';

import { useCallback, useEffect, useRef, useState, type KeyboardEvent } from 'react';
import {
  WorkspaceStatus,
  type FileTreeEntry,
  type WorkspaceSession,
  type WriteFileResponse,
} from '@builder/shared';
import { errorMessage, isAbortError } from '@/lib/api/api-error';
import { workspaceApi } from '@/lib/workspace/workspace.api';

// Generated or installed files: not what a user edits.
const HIDDEN_PREFIXES = ['node_modules/', '.git/', 'dist/', '.astro/'];
const PREFERRED_FILES = ['src/pages/index.astro', 'src/pages/index.md', 'index.html'];

type LoadState =
  { kind: 'idle' } | { kind: 'loading' } | { kind: 'ready' } | { kind: 'failed'; message: string };
type SaveState =
  { kind: 'idle' } | { kind: 'saving' } | { kind: 'saved' } | { kind: 'failed'; message: string };

export interface FileEditorProps {
  workspace: WorkspaceSession | null;
  /** Changed when the workspace's files were replaced behind the editor (a restore): the open file is read again. */
  filesRevision?: number;
  /** Told after each save the API acknowledged. */
  onSaved?: (saved: WriteFileResponse) => void;
}

/** A small editor: pick a file of the workspace, change it, save it through the files API. */
export function FileEditor({ workspace, filesRevision = 0, onSaved }: FileEditorProps) {
  const sessionId = workspace?.status === WorkspaceStatus.Running ? workspace.id : null;
  const [files, setFiles] = useState<string[]>([]);
  const [treeState, setTreeState] = useState<LoadState>({ kind: 'idle' });
  const [selected, setSelected] = useState<string | null>(null);
  const [content, setContent] = useState('');
  const [original, setOriginal] = useState('');
  const [fileState, setFileState] = useState<LoadState>({ kind: 'idle' });
  const [saveState, setSaveState] = useState<SaveState>({ kind: 'idle' });
  const saveAbortRef = useRef<AbortController | null>(null);

  useEffect(() => {
    setFiles([]);
    setSelected(null);
    if (!sessionId) {
      setTreeState({ kind: 'idle' });
      return;
    }
    const abort = new AbortController();
    setTreeState({ kind: 'loading' });
    workspaceApi()
      .getFileTree(sessionId, { signal: abort.signal })
      .then(({ entries }) => {
        const paths = editablePaths(entries);
        setFiles(paths);
        setSelected(PREFERRED_FILES.find((p) => paths.includes(p)) ?? paths[0] ?? null);
        setTreeState({ kind: 'ready' });
      })
      .catch((error: unknown) => {
        if (!isAbortError(error)) setTreeState({ kind: 'failed', message: errorMessage(error) });
      });
    return () => abort.abort();
  }, [sessionId]);

  useEffect(() => {
    setSaveState({ kind: 'idle' });
    if (!sessionId || !selected) {
      setContent('');
      setOriginal('');
      setFileState({ kind: 'idle' });
      return;
    }
    const abort = new AbortController();
    setFileState({ kind: 'loading' });
    workspaceApi()
      .readFile(sessionId, selected, { signal: abort.signal })
      .then((file) => {
        setContent(file.content);
        setOriginal(file.content);
        setFileState({ kind: 'ready' });
      })
      .catch((error: unknown) => {
        if (!isAbortError(error)) setFileState({ kind: 'failed', message: errorMessage(error) });
      });
    return () => abort.abort();
  }, [sessionId, selected, filesRevision]);

  // A save still running when the editor goes away must not set state afterwards.
  useEffect(() => () => saveAbortRef.current?.abort(), []);

  const save = useCallback(async (): Promise<void> => {
    if (!sessionId || !selected) return;
    saveAbortRef.current?.abort();
    const abort = new AbortController();
    saveAbortRef.current = abort;
    const saving = content;
    setSaveState({ kind: 'saving' });
    try {
      const saved = await workspaceApi().writeFile(sessionId, selected, saving, { signal: abort.signal });
      setOriginal(saving);
      setSaveState({ kind: 'saved' });
      onSaved?.(saved);
    } catch (error) {
      if (!isAbortError(error)) setSaveState({ kind: 'failed', message: errorMessage(error) });
    } finally {
      if (saveAbortRef.current === abort) saveAbortRef.current = null;
    }
  }, [sessionId, selected, content, onSaved]);

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>): void => {
    if ((event.metaKey || event.ctrlKey) && event.key === 's') {
      event.preventDefault();
      void save();
    }
  };

  const dirty = content !== original;
  const editable = fileState.kind === 'ready';

  return (
    <section className="flex flex-col gap-2">
      <div className="flex items-center justify-between">
        <h2 className="text-xs font-semibold uppercase tracking-wide text-gray-500">Editor</h2>
        <SaveStatus state={saveState} dirty={dirty} />
      </div>
      {!sessionId ? (
        <p className="text-xs text-gray-400">Files are available once the workspace runs.</p>
      ) : treeState.kind === 'failed' ? (
        <p className="text-xs text-red-600">Could not list files: {treeState.message}</p>
      ) : (
        <>
          <select
            value={selected ?? ''}
            onChange={(e) => setSelected(e.target.value || null)}
            disabled={treeState.kind !== 'ready' || files.length === 0}
            className="w-full rounded-md border border-gray-300 bg-white px-2 py-1.5 font-mono text-xs"
            data-testid="editor-file-picker"
            aria-label="File"
          >
            {treeState.kind === 'loading' && <option value="">Loading files…</option>}
            {files.map((path) => (
              <option key={path} value={path}>
                {path}
              </option>
            ))}
          </select>
          {fileState.kind === 'failed' && (
            <p className="text-xs text-red-600">Could not open the file: {fileState.message}</p>
          )}
          <textarea
            value={content}
            onChange={(e) => {
              setContent(e.target.value);
              if (saveState.kind !== 'saving') setSaveState({ kind: 'idle' });
            }}
            onKeyDown={onKeyDown}
            readOnly={!editable}
            spellCheck={false}
            rows={18}
            className="w-full resize-y rounded-md border border-gray-300 bg-white p-2 font-mono text-xs leading-5 focus:border-gray-500 focus:outline-none read-only:bg-gray-50"
            data-testid="editor-textarea"
            aria-label={selected ? `Contents of ${selected}` : 'File contents'}
          />
          <button
            type="button"
            onClick={() => void save()}
            disabled={!editable || saveState.kind === 'saving'}
            className="self-end rounded-md bg-gray-900 px-3 py-1.5 text-sm font-medium text-white hover:bg-gray-700 disabled:opacity-50"
            data-testid="editor-save"
          >
            {saveState.kind === 'saving' ? 'Saving…' : 'Save'}
          </button>
        </>
      )}
    </section>
  );
}

function SaveStatus({ state, dirty }: { state: SaveState; dirty: boolean }) {
  let text = dirty ? 'Unsaved changes' : '';
  let color = 'text-gray-500';
  if (state.kind === 'saved') {
    text = 'Saved';
    color = 'text-emerald-600';
  } else if (state.kind === 'failed') {
    text = `Save failed: ${state.message}`;
    color = 'text-red-600';
  }
  return (
    <span
      className={`text-xs ${color}`}
      data-testid="editor-save-status"
      data-state={state.kind}
      role="status"
    >
      {text}
    </span>
  );
}

function editablePaths(entries: FileTreeEntry[]): string[] {
  return entries
    .filter((entry) => entry.type === 'file')
    .map((entry) => entry.path.replace(/^\/+/, ''))
    .filter(
      (path) => !HIDDEN_PREFIXES.some((prefix) => path.startsWith(prefix) || path.includes(`/${prefix}`)),
    )
    .sort((a, b) => a.localeCompare(b));
}

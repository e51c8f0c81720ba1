'use client';

import dynamic from 'next/dynamic';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import {
  WorkspaceStatus,
  type CompileError,
  type FileTreeEntry,
  type Verdict,
  type WorkspaceSession,
  type WriteFileResponse,
} from '@builder/shared';
import { errorMessage, isAbortError } from '@/lib/api/api-error';
import { problemsIn } from '@/lib/workspace/compile-problems';
import { workspaceApi } from '@/lib/workspace/workspace.api';

// CodeMirror touches the DOM and weighs more than the rest of the panel: the browser loads it
// when the panel first shows, and the server never renders it.
const CodeEditor = dynamic(() => import('./code-editor'), {
  ssr: false,
  loading: () => (
    <div className="flex h-[28rem] items-center justify-center rounded-md border border-gray-300 bg-gray-50 text-xs text-gray-400">
      Loading the editor…
    </div>
  ),
});

// Generated or installed files: not what a user edits.
const HIDDEN_PREFIXES = ['node_modules/', '.git/', 'dist/', '.astro/'];
const PREFERRED_FILES = ['src/pages/index.astro', 'src/pages/index.md', 'index.html'];
// One empty list, so that an editor told of no problems does not redraw its marks on every render.
const NO_PROBLEMS: readonly CompileError[] = [];

type LoadState =
  { kind: 'idle' } | { kind: 'loading' } | { kind: 'ready' } | { kind: 'failed'; message: string };
type SaveState =
  | { kind: 'idle' }
  | { kind: 'saving'; path: string }
  | { kind: 'saved'; path: string; errors: number | null }
  | { kind: 'failed'; path: string; message: string };

/** A file as read (`original`) and as edited (`content`); `loads` counts the reads. */
interface Buffer {
  original: string;
  content: string;
  loads: number;
}

export interface FileEditorProps {
  workspace: WorkspaceSession | null;
  /** Changed when the workspace's files were replaced behind the editor (a restore): the open file is read again. */
  filesRevision?: number;
  /** Told after each save the API acknowledged. */
  onSaved?: (saved: WriteFileResponse) => void;
  /** Told the verdict each save answered with (saves ask for it). */
  onVerdict?: (sessionId: string, paths: string[], verdict: Verdict) => void;
  /** The compile errors the workspace stands with; those of the open file show at their line. */
  problems?: readonly CompileError[];
}

/**
 * The code editor: pick a file of the workspace, change it, save it with Ctrl/Cmd-S through the
 * files API. Unsaved changes of a file are kept while other files are open; a save answers with
 * the compile verdict, and the workspace's problems show inline.
 */
export function FileEditor({
  workspace,
  filesRevision = 0,
  onSaved,
  onVerdict,
  problems = NO_PROBLEMS,
}: FileEditorProps) {
  const sessionId = workspace?.status === WorkspaceStatus.Running ? workspace.id : null;
  const [files, setFiles] = useState<string[]>([]);
  const [treeState, setTreeState] = useState<LoadState>({ kind: 'idle' });
  const [selected, setSelected] = useState<string | null>(null);
  const [buffers, setBuffers] = useState<Record<string, Buffer>>({});
  const [fileState, setFileState] = useState<LoadState>({ kind: 'idle' });
  const [saveState, setSaveState] = useState<SaveState>({ kind: 'idle' });
  const saveAbortRef = useRef<AbortController | null>(null);
  const buffersRef = useRef(buffers);
  buffersRef.current = buffers;
  const revisionRef = useRef(filesRevision);
  const fileStateRef = useRef(fileState);
  fileStateRef.current = fileState;

  useEffect(() => {
    setFiles([]);
    setSelected(null);
    setBuffers({});
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
    if (!sessionId || !selected) {
      setFileState({ kind: 'idle' });
      return;
    }
    // A restore replaced every file: unsaved text was written against what is gone.
    const restored = revisionRef.current !== filesRevision;
    revisionRef.current = filesRevision;
    const draft = buffersRef.current[selected];
    if (!restored && draft && draft.content !== draft.original) {
      setFileState({ kind: 'ready' });
      return;
    }
    const abort = new AbortController();
    setFileState({ kind: 'loading' });
    workspaceApi()
      .readFile(sessionId, selected, { signal: abort.signal })
      .then((file) => {
        setBuffers((current) => ({
          ...(restored ? {} : current),
          [selected]: {
            original: file.content,
            content: file.content,
            loads: (current[selected]?.loads ?? 0) + 1,
          },
        }));
        setFileState({ kind: 'ready' });
      })
      .catch((error: unknown) => {
        if (!isAbortError(error)) setFileState({ kind: 'failed', message: errorMessage(error) });
      });
    return () => abort.abort();
  }, [sessionId, selected, filesRevision]);

  // A save still running when the editor goes away must not set state afterwards.
  useEffect(() => () => saveAbortRef.current?.abort(), []);

  const open = (path: string | null): void => {
    // Files left unchanged are read again next time (something else may change them meanwhile);
    // changed ones keep their text until saved.
    setBuffers((current) =>
      Object.fromEntries(Object.entries(current).filter(([p, b]) => p === path || b.content !== b.original)),
    );
    setSelected(path);
  };

  const save = useCallback(async (): Promise<void> => {
    const buffer = selected ? buffersRef.current[selected] : undefined;
    // While the file is read again (after a restore), what the editor holds is the old text.
    if (!sessionId || !selected || !buffer || fileStateRef.current.kind !== 'ready') return;
    const path = selected;
    saveAbortRef.current?.abort();
    const abort = new AbortController();
    saveAbortRef.current = abort;
    const saving = buffer.content;
    setSaveState({ kind: 'saving', path });
    try {
      const saved = await workspaceApi().writeFile(sessionId, path, saving, {
        signal: abort.signal,
        verify: true,
      });
      setBuffers((current) => {
        const now = current[path];
        return now ? { ...current, [path]: { ...now, original: saving } } : current;
      });
      const verdict: Verdict | null =
        saved.ok === undefined ? null : { ok: saved.ok, errors: saved.errors ?? [] };
      setSaveState({ kind: 'saved', path, errors: verdict ? verdict.errors.length : null });
      if (verdict) onVerdict?.(sessionId, [path], verdict);
      onSaved?.(saved);
    } catch (error) {
      if (!isAbortError(error)) setSaveState({ kind: 'failed', path, message: errorMessage(error) });
    } finally {
      if (saveAbortRef.current === abort) saveAbortRef.current = null;
    }
  }, [sessionId, selected, onSaved, onVerdict]);

  const onChange = useCallback(
    (content: string) => {
      if (!selected) return;
      setBuffers((current) => {
        const now = current[selected];
        return now ? { ...current, [selected]: { ...now, content } } : current;
      });
      setSaveState((state) => (state.kind === 'saving' ? state : { kind: 'idle' }));
    },
    [selected],
  );

  const buffer = selected ? buffers[selected] : undefined;
  const dirty = buffer !== undefined && buffer.content !== buffer.original;
  const editable = fileState.kind === 'ready' && buffer !== undefined;
  const unsaved = new Set(Object.entries(buffers).flatMap(([p, b]) => (b.content !== b.original ? [p] : [])));
  const here = useMemo(() => (selected ? problemsIn(problems, selected) : []), [problems, selected]);
  const elsewhere = problems.filter((p) => p.file !== selected);
  const shownSave =
    saveState.kind !== 'idle' && saveState.path === selected ? saveState : { kind: 'idle' as const };

  return (
    <section className="flex flex-col gap-2" aria-label="Code editor" data-session={sessionId ?? undefined}>
      <div className="flex items-center justify-between gap-2">
        <h2 className="text-xs font-semibold uppercase tracking-wide text-gray-500">Editor</h2>
        <SaveStatus state={shownSave} dirty={dirty} />
      </div>
      {!sessionId ? (
        <p className="text-xs text-gray-400">Files are available once the workspace runs.</p>
      ) : treeState.kind === 'failed' ? (
        <p className="text-xs text-red-600">Could not list files: {treeState.message}</p>
      ) : (
        <>
          <select
            value={selected ?? ''}
            onChange={(e) => open(e.target.value || null)}
            disabled={treeState.kind !== 'ready' || files.length === 0}
            className="w-full rounded-md border border-gray-300 bg-white px-2 py-1.5 font-mono text-xs"
            data-testid="editor-file-picker"
            aria-label="File"
          >
            {treeState.kind === 'loading' && <option value="">Loading files…</option>}
            {files.map((path) => (
              <option key={path} value={path}>
                {unsaved.has(path) ? `● ${path}` : path}
              </option>
            ))}
          </select>
          {selected && (
            <p
              className="truncate font-mono text-xs text-gray-700"
              data-testid="editor-file-name"
              data-dirty={dirty}
              title={dirty ? 'Unsaved changes' : undefined}
            >
              {selected}
              {dirty && (
                <span className="ml-1 text-amber-600" aria-label="unsaved changes">
                  ●
                </span>
              )}
            </p>
          )}
          {fileState.kind === 'failed' && (
            <p className="text-xs text-red-600">Could not open the file: {fileState.message}</p>
          )}
          {selected && (
            <CodeEditor
              path={selected}
              content={buffer?.content ?? ''}
              loadKey={`${selected}#${buffer?.loads ?? 0}`}
              readOnly={!editable}
              problems={here}
              onChange={onChange}
              onSave={() => void save()}
            />
          )}
          <Problems here={here} elsewhere={elsewhere} />
          <button
            type="button"
            onClick={() => void save()}
            disabled={!editable || saveState.kind === 'saving'}
            className="self-end rounded-md bg-gray-900 px-3 py-1.5 text-sm font-medium text-white hover:bg-gray-700 disabled:opacity-50"
            data-testid="editor-save"
            title="Save (Ctrl/Cmd-S)"
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
  let verdict: 'ok' | 'errors' | undefined;
  if (state.kind === 'saving') {
    text = 'Saving…';
  } else if (state.kind === 'saved' && !dirty) {
    verdict = state.errors ? 'errors' : 'ok';
    text = state.errors ? `Saved, does not compile (${plural(state.errors, 'error')})` : 'Saved';
    color = state.errors ? 'text-amber-700' : 'text-emerald-600';
  } else if (state.kind === 'failed') {
    text = `Save failed: ${state.message}`;
    color = 'text-red-600';
  }
  return (
    <span
      className={`text-right text-xs ${color}`}
      data-testid="editor-save-status"
      data-state={state.kind}
      data-verdict={verdict}
      role="status"
    >
      {text}
    </span>
  );
}

function Problems({ here, elsewhere }: { here: CompileError[]; elsewhere: readonly CompileError[] }) {
  if (here.length === 0 && elsewhere.length === 0) return null;
  const otherFiles = [...new Set(elsewhere.map((p) => p.file ?? 'unknown file'))];
  return (
    <div className="rounded-md border border-red-200 bg-red-50 p-2 text-xs text-red-800">
      <ul aria-label="Problems" data-testid="editor-problems" className="space-y-1">
        {here.map((p, index) => (
          <li key={index} data-line={p.line} className="font-mono">
            {p.line !== undefined &&
              `Line ${p.line}${p.column !== undefined ? `, column ${p.column}` : ''}: `}
            {p.message}
          </li>
        ))}
      </ul>
      {otherFiles.length > 0 && (
        <p className="mt-1">
          {plural(elsewhere.length, 'problem')} in {otherFiles.join(', ')}
        </p>
      )}
    </div>
  );
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
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

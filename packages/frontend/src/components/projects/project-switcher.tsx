'use client';

import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { Project } from '@builder/shared';
import type { UseProjectsResult } from '@/hooks/useProjects';
import { formatDateTime } from '@/lib/format/format';
import { TOOLBAR_BUTTON } from '@/components/workspace/workspace-toolbar';

// The API's limit on a project name.
const MAX_NAME = 100;

/** Which row of the list is being renamed or asked to confirm its deletion. */
type RowMode = { kind: 'rename'; projectId: string } | { kind: 'delete'; projectId: string } | null;

/**
 * The open project's name; opens the list of the user's projects: open one, make a new one, rename
 * or delete (after a confirmation naming what goes) any of them.
 */
export function ProjectSwitcher({ projects }: { projects: UseProjectsResult }) {
  const [open, setOpen] = useState(false);
  const [mode, setMode] = useState<RowMode>(null);
  const rootRef = useRef<HTMLDivElement>(null);
  const { current, refresh } = projects;
  const close = (): void => {
    setOpen(false);
    setMode(null);
  };

  useEffect(() => {
    if (!open) return;
    // The list may have changed in another tab, and edits reorder it.
    void refresh();
    const onPointerDown = (event: PointerEvent): void => {
      if (!rootRef.current?.contains(event.target as Node)) close();
    };
    const onKeyDown = (event: KeyboardEvent): void => {
      if (event.key === 'Escape') close();
    };
    document.addEventListener('pointerdown', onPointerDown);
    document.addEventListener('keydown', onKeyDown);
    return () => {
      document.removeEventListener('pointerdown', onPointerDown);
      document.removeEventListener('keydown', onKeyDown);
    };
  }, [open, refresh]);

  const choose = (projectId: string): void => {
    projects.switchTo(projectId);
    close();
  };

  const createNew = async (): Promise<void> => {
    if (await projects.createProject()) close();
  };

  return (
    <div ref={rootRef} className="relative">
      <button
        type="button"
        onClick={() => (open ? close() : setOpen(true))}
        aria-haspopup="true"
        aria-expanded={open}
        className={`${TOOLBAR_BUTTON} flex max-w-[16rem] items-center gap-1`}
        data-testid="project-switcher"
      >
        <span className="truncate" data-testid="project-name">
          {current?.name ?? (projects.isLoading ? 'Opening…' : 'Projects')}
        </span>
        <span aria-hidden>▾</span>
      </button>
      {open && (
        <div
          className="absolute left-0 top-full z-30 mt-1 w-96 rounded-md border border-gray-200 bg-white p-2 shadow-lg"
          data-testid="project-menu"
        >
          <div className="mb-2 flex items-center justify-between px-1">
            <h2 className="text-xs font-semibold uppercase tracking-wide text-gray-500">Your projects</h2>
            <button
              type="button"
              onClick={() => void createNew()}
              disabled={projects.pending !== null}
              className="rounded-md bg-gray-900 px-2.5 py-1 text-xs font-medium text-white hover:bg-gray-700 disabled:opacity-50"
              data-testid="project-new"
            >
              {projects.pending === 'create' ? 'Creating…' : 'New project'}
            </button>
          </div>
          {projects.actionError && (
            <p role="alert" className="mb-2 px-1 text-xs text-red-600" data-testid="project-action-error">
              {projects.actionError.message}
            </p>
          )}
          {projects.projects.length === 0 ? (
            <p className="px-1 py-2 text-xs text-gray-400">No projects yet.</p>
          ) : (
            <ul className="max-h-80 space-y-1 overflow-y-auto" data-testid="project-list">
              {projects.projects.map((project) => (
                <ProjectRow
                  key={project.id}
                  project={project}
                  isCurrent={project.id === current?.id}
                  mode={mode?.projectId === project.id ? mode.kind : null}
                  pending={projects.pending}
                  onOpen={() => choose(project.id)}
                  onMode={(kind) => setMode(kind ? { kind, projectId: project.id } : null)}
                  onRename={async (name) => {
                    if (await projects.rename(project.id, name)) setMode(null);
                  }}
                  onDelete={async () => {
                    if (await projects.remove(project.id)) setMode(null);
                  }}
                />
              ))}
            </ul>
          )}
        </div>
      )}
    </div>
  );
}

interface ProjectRowProps {
  project: Project;
  isCurrent: boolean;
  mode: 'rename' | 'delete' | null;
  pending: UseProjectsResult['pending'];
  onOpen: () => void;
  onMode: (mode: 'rename' | 'delete' | null) => void;
  onRename: (name: string) => Promise<void>;
  onDelete: () => Promise<void>;
}

function ProjectRow({
  project,
  isCurrent,
  mode,
  pending,
  onOpen,
  onMode,
  onRename,
  onDelete,
}: ProjectRowProps) {
  const version = project.currentVersion;
  return (
    <li
      className={`rounded-md border p-2 ${isCurrent ? 'border-gray-400 bg-gray-50' : 'border-transparent hover:bg-gray-50'}`}
      data-testid="project-item"
      data-project-id={project.id}
      data-current={isCurrent}
    >
      {mode === 'rename' ? (
        <RenameForm
          name={project.name}
          busy={pending === 'rename'}
          onSave={onRename}
          onCancel={() => onMode(null)}
        />
      ) : (
        <div className="flex items-center gap-2">
          <button
            type="button"
            onClick={onOpen}
            className="min-w-0 flex-1 text-left"
            aria-current={isCurrent ? 'true' : undefined}
            data-testid="project-open"
          >
            <span
              className="block truncate text-sm font-medium text-gray-900"
              data-testid="project-item-name"
            >
              {project.name}
            </span>
            <span className="block text-xs text-gray-500">
              {version ? `v${version.number} · ` : ''}changed {formatDateTime(project.updatedAt)}
            </span>
          </button>
          <button
            type="button"
            onClick={() => onMode('rename')}
            className="rounded px-1.5 py-0.5 text-xs text-gray-600 hover:bg-gray-200"
            data-testid="project-rename"
          >
            Rename
          </button>
          <button
            type="button"
            onClick={() => onMode('delete')}
            className="rounded px-1.5 py-0.5 text-xs text-red-600 hover:bg-red-50"
            data-testid="project-delete"
          >
            Delete
          </button>
        </div>
      )}
      {mode === 'delete' && (
        <div
          role="alertdialog"
          aria-label={`Delete ${project.name}`}
          className="mt-2 rounded-md border border-red-200 bg-red-50 p-2 text-xs"
          data-testid="project-delete-confirm"
        >
          <p className="text-red-800">
            Delete “{project.name}” and all its versions? {isCurrent && 'Its preview closes. '}This cannot be
            undone.
          </p>
          <div className="mt-2 flex justify-end gap-2">
            <button
              type="button"
              onClick={() => onMode(null)}
              className="rounded-md border border-gray-300 bg-white px-2 py-1 text-gray-700 hover:bg-gray-50"
              data-testid="project-delete-cancel"
            >
              Cancel
            </button>
            <button
              type="button"
              onClick={() => void onDelete()}
              disabled={pending !== null}
              className="rounded-md bg-red-600 px-2 py-1 font-medium text-white hover:bg-red-700 disabled:opacity-50"
              data-testid="project-delete-confirm-button"
            >
              {pending === 'delete' ? 'Deleting…' : 'Delete project'}
            </button>
          </div>
        </div>
      )}
    </li>
  );
}

function RenameForm({
  name,
  busy,
  onSave,
  onCancel,
}: {
  name: string;
  busy: boolean;
  onSave: (name: string) => Promise<void>;
  onCancel: () => void;
}) {
  const [value, setValue] = useState(name);
  const trimmed = value.trim();

  const submit = (event: FormEvent<HTMLFormElement>): void => {
    event.preventDefault();
    if (trimmed && trimmed !== name) void onSave(trimmed);
    else onCancel();
  };

  return (
    <form onSubmit={submit} className="flex items-center gap-2" data-testid="project-rename-form">
      <input
        value={value}
        onChange={(e) => setValue(e.target.value)}
        maxLength={MAX_NAME}
        autoFocus
        aria-label="Project name"
        className="min-w-0 flex-1 rounded-md border border-gray-300 px-2 py-1 text-sm focus:border-gray-500 focus:outline-none"
        data-testid="project-rename-input"
      />
      <button
        type="submit"
        disabled={busy || !trimmed}
        className="rounded-md bg-gray-900 px-2 py-1 text-xs font-medium text-white hover:bg-gray-700 disabled:opacity-50"
        data-testid="project-rename-save"
      >
        {busy ? 'Saving…' : 'Save'}
      </button>
      <button
        type="button"
        onClick={onCancel}
        className="rounded-md px-2 py-1 text-xs text-gray-600 hover:bg-gray-100"
      >
        Cancel
      </button>
    </form>
  );
}

/** Shown instead of a preview when the URL names a project the user cannot open. */
export function ProjectMissing({
  projectId,
  message,
  onOpenProjects,
}: {
  projectId: string;
  message: string;
  /** Opens the user's most recent project (the switcher lists the others). */
  onOpenProjects: () => void;
}) {
  return (
    <div
      role="alert"
      className="mx-auto mt-16 w-full max-w-md rounded-lg border border-amber-200 bg-white p-6 shadow-sm"
      data-testid="project-missing"
    >
      <h2 className="text-sm font-semibold text-gray-900">Project not found</h2>
      <p className="mt-2 text-sm text-gray-700">{message}</p>
      <p className="mt-1 break-all font-mono text-xs text-gray-500">{projectId}</p>
      <button
        type="button"
        onClick={onOpenProjects}
        className="mt-4 rounded-md bg-gray-900 px-3 py-1.5 text-sm font-medium text-white hover:bg-gray-700"
        data-testid="project-missing-open"
      >
        Open my projects
      </button>
    </div>
  );
}

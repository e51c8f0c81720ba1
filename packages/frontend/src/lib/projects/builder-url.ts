/** The builder's page; `?project=<id>` names the project it opens. */
export const BUILDER_PATH = '/builder';
export const PROJECT_PARAM = 'project';

/** The builder's address for a project: what a reload or a bookmark opens again. */
export function builderUrl(projectId: string): string {
  return `${BUILDER_PATH}?${PROJECT_PARAM}=${encodeURIComponent(projectId)}`;
}

/** The project a URL asks for (a search parameter or a path segment): null when it names none. */
export function requestedProjectId(value: string | string[] | undefined | null): string | null {
  const first = Array.isArray(value) ? value[0] : value;
  const id = first?.trim();
  return id ? id : null;
}

import type { Metadata } from 'next';
import { WorkspaceBuilder } from '@/components/workspace/workspace-builder';
import { PROJECT_PARAM, requestedProjectId } from '@/lib/projects/builder-url';

export const metadata: Metadata = { title: 'Builder' };

/** `/builder?project=<id>` opens that project; `/builder` the user's most recent one. */
export default async function BuilderPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const params = await searchParams;
  return <WorkspaceBuilder requestedProjectId={requestedProjectId(params[PROJECT_PARAM])} />;
}

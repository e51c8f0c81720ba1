import { redirect } from 'next/navigation';
import { builderUrl } from '@/lib/projects/builder-url';

/** `/builder/<id>`: the same project as `/builder?project=<id>`, the one address the builder keeps. */
export default async function BuilderProjectPage({ params }: { params: Promise<{ projectId: string }> }) {
  const { projectId } = await params;
  redirect(builderUrl(decoded(projectId)));
}

/** The segment as the user typed it; a malformed escape is kept as it came (and is not found). */
function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

import type { Metadata } from 'next';
import { WorkspaceBuilder } from '@/components/workspace/workspace-builder';

export const metadata: Metadata = { title: 'Builder' };

export default function BuilderPage() {
  return <WorkspaceBuilder />;
}

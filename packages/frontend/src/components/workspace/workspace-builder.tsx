'use client';

import { useRouter } from 'next/navigation';
import { useCallback, useEffect, useState } from 'react';
import { ApiError } from '@/lib/api/api-error';
import { tokenStore } from '@/lib/auth/token.store';
import { builderUrl } from '@/lib/projects/builder-url';
import { useProjectHistory } from '@/hooks/useProjectHistory';
import { useProjects } from '@/hooks/useProjects';
import { useWorkspace } from '@/hooks/useWorkspace';
import { DownloadProjectButton } from '@/components/projects/download-project-button';
import { ProjectHistory } from '@/components/projects/project-history';
import { ProjectMissing } from '@/components/projects/project-missing';
import { ProjectSwitcher } from '@/components/projects/project-switcher';
import { ConsolePanel } from './console-panel';
import type { Device } from './device';
import { FileEditor } from './file-editor';
import { SidePanel } from './side-panel';
import { WorkspaceActivity } from './workspace-activity';
import { WorkspacePreview } from './workspace-preview';
import { WorkspaceToolbar } from './workspace-toolbar';

/**
 * The builder screen: toolbar with the project switcher, live preview of the open project, and a
 * side panel (Editor, Console, History) above the dev server's activity. `requestedProjectId` is the
 * project the URL names; without one the user's most recent project opens.
 */
export function WorkspaceBuilder({ requestedProjectId }: { requestedProjectId: string | null }) {
  const router = useRouter();
  const projects = useProjects(requestedProjectId);
  const project = projects.current;
  const projectId = project?.id ?? null;
  const workspace = useWorkspace({ projectId });
  const history = useProjectHistory(projectId);
  const [device, setDevice] = useState<Device>('desktop');
  const [reloadKey, setReloadKey] = useState(0);
  const [filesRevision, setFilesRevision] = useState(0);

  // The address names the open project, so a reload or a bookmark returns to it. Replaced in place:
  // Next keeps the page mounted, and so the session.
  useEffect(() => {
    if (!projectId) return;
    const url = builderUrl(projectId);
    if (window.location.pathname + window.location.search !== url) window.history.replaceState(null, '', url);
  }, [projectId]);

  // An expired or foreign token: the builder cannot continue.
  const unauthorized = [workspace.error, projects.error, projects.actionError, history.error].some(
    (error) => error instanceof ApiError && error.isUnauthorized,
  );
  useEffect(() => {
    if (!unauthorized) return;
    tokenStore.clear();
    router.replace(`/login?next=${encodeURIComponent(window.location.pathname + window.location.search)}`);
  }, [unauthorized, router]);

  const signOut = async (): Promise<void> => {
    // Delete while the token is still there; unmounting afterwards finds nothing left to delete.
    await workspace.deleteWorkspace();
    tokenStore.clear();
    router.replace('/login');
  };

  const { refresh: refreshHistory, restore } = history;
  const onSaved = useCallback(() => void refreshHistory(), [refreshHistory]);
  const onRestore = async (versionId: string): Promise<void> => {
    // The server replaces the running workspace's files and its dev server reloads the preview by
    // itself: the iframe is left alone. The editor reads its open file again.
    if (await restore(versionId)) setFilesRevision((revision) => revision + 1);
  };

  // No project yet: it is being chosen, or choosing it failed.
  const choosing = !project && !projects.missing;

  return (
    <div className="flex h-screen flex-col">
      <WorkspaceToolbar
        workspace={workspace.workspace}
        connectionState={workspace.connectionState}
        // Without a project a restart would make a new one behind the switcher's back.
        busy={!projectId || (workspace.isLoading && !workspace.workspace)}
        device={device}
        onDeviceChange={setDevice}
        onReload={() => setReloadKey((key) => key + 1)}
        onRestart={() => void workspace.restartWorkspace()}
        onSignOut={() => void signOut()}
        projectControls={
          <>
            <ProjectSwitcher projects={projects} />
            <DownloadProjectButton project={project} />
          </>
        }
      />
      <div className="flex min-h-0 flex-1 flex-col md:flex-row">
        <main className="min-w-0 flex-1 overflow-auto bg-gray-100">
          {projects.missing ? (
            <ProjectMissing
              projectId={projects.missing.projectId}
              message={projects.missing.message}
              onOpenProjects={() => void projects.open(null)}
            />
          ) : (
            <WorkspacePreview
              workspace={workspace.workspace}
              isLoading={workspace.isLoading || (choosing && !projects.error)}
              error={choosing ? projects.error : workspace.error}
              buildSteps={workspace.buildSteps}
              onRetry={() =>
                void (projectId ? workspace.createWorkspace() : projects.open(requestedProjectId))
              }
              device={device}
              reloadKey={reloadKey}
            />
          )}
        </main>
        <aside className="w-full shrink-0 overflow-y-auto border-t border-gray-200 bg-white p-4 md:w-96 md:border-l md:border-t-0">
          <SidePanel
            tabs={[
              {
                id: 'editor',
                label: 'Editor',
                content: (
                  <FileEditor
                    workspace={workspace.workspace}
                    filesRevision={filesRevision}
                    onSaved={onSaved}
                    onVerdict={workspace.reportVerdict}
                    problems={workspace.problems}
                  />
                ),
              },
              { id: 'console', label: 'Console', content: <ConsolePanel feed={workspace.logs} /> },
              {
                id: 'history',
                label: 'History',
                content: <ProjectHistory projectId={projectId} history={history} onRestore={onRestore} />,
              },
            ]}
            onSelect={(tab) => {
              if (tab === 'history') void refreshHistory();
            }}
          >
            <WorkspaceActivity hmrEvents={workspace.hmrEvents} buildErrors={workspace.buildErrors} />
          </SidePanel>
        </aside>
      </div>
    </div>
  );
}

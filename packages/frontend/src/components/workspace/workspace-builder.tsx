'use client';

import { useRouter } from 'next/navigation';
import { useEffect, useState } from 'react';
import { ApiError } from '@/lib/api/api-error';
import { tokenStore } from '@/lib/auth/token.store';
import { useWorkspace } from '@/hooks/useWorkspace';
import type { Device } from './device';
import { FileEditor } from './file-editor';
import { WorkspaceActivity } from './workspace-activity';
import { WorkspacePreview } from './workspace-preview';
import { WorkspaceToolbar } from './workspace-toolbar';

/** The builder screen: toolbar, live preview, and a side panel with the editor and activity. */
export function WorkspaceBuilder() {
  const router = useRouter();
  const workspace = useWorkspace();
  const [device, setDevice] = useState<Device>('desktop');
  const [reloadKey, setReloadKey] = useState(0);

  // An expired or foreign token: the session cannot continue.
  const unauthorized = workspace.error instanceof ApiError && workspace.error.isUnauthorized;
  useEffect(() => {
    if (!unauthorized) return;
    tokenStore.clear();
    router.replace('/login?next=%2Fbuilder');
  }, [unauthorized, router]);

  const signOut = async (): Promise<void> => {
    // Delete while the token is still there; unmounting afterwards finds nothing left to delete.
    await workspace.deleteWorkspace();
    tokenStore.clear();
    router.replace('/login');
  };

  return (
    <div className="flex h-screen flex-col">
      <WorkspaceToolbar
        workspace={workspace.workspace}
        connectionState={workspace.connectionState}
        busy={workspace.isLoading && !workspace.workspace}
        device={device}
        onDeviceChange={setDevice}
        onReload={() => setReloadKey((key) => key + 1)}
        onRestart={() => void workspace.restartWorkspace()}
        onSignOut={() => void signOut()}
      />
      <div className="flex min-h-0 flex-1 flex-col md:flex-row">
        <main className="min-w-0 flex-1 overflow-auto bg-gray-100">
          <WorkspacePreview
            workspace={workspace.workspace}
            isLoading={workspace.isLoading}
            error={workspace.error}
            buildSteps={workspace.buildSteps}
            onRetry={() => void workspace.createWorkspace()}
            device={device}
            reloadKey={reloadKey}
          />
        </main>
        <aside className="w-full shrink-0 space-y-6 overflow-y-auto border-t border-gray-200 bg-white p-4 md:w-96 md:border-l md:border-t-0">
          <FileEditor workspace={workspace.workspace} />
          <WorkspaceActivity hmrEvents={workspace.hmrEvents} buildErrors={workspace.buildErrors} />
        </aside>
      </div>
    </div>
  );
}

'use client';

import { useCallback, useEffect, useRef, useState } from 'react';
import type { Verdict, WorkspaceSession } from '@builder/shared';
import { createDeferredOwner, type DeferredOwner } from '@/lib/lifecycle/deferred-owner';
import { workspaceApi } from '@/lib/workspace/workspace.api';
import type { LogFeed } from '@/lib/workspace/log-buffer';
import { acquireWorkspaceSocket, type SocketLease } from '@/lib/workspace/websocket.service';
import {
  EMPTY_WORKSPACE_SNAPSHOT,
  WorkspaceSessionController,
  type WorkspaceSnapshot,
} from '@/lib/workspace/workspace-session.controller';

export interface UseWorkspaceOptions {
  /** The project to preview; null while none is chosen (nothing is created until one is). */
  projectId: string | null;
  templateName?: string;
}

export interface UseWorkspaceResult extends WorkspaceSnapshot {
  /** Creates a new workspace of the current project, deleting the current one first. */
  createWorkspace: () => Promise<WorkspaceSession | null>;
  deleteWorkspace: () => Promise<void>;
  /** The API's restart where it exists, otherwise delete + create. */
  restartWorkspace: () => Promise<WorkspaceSession | null>;
  /** Takes in the verdict a verify answer of a change of `sessionId` carried (see `problems`). */
  reportVerdict: (sessionId: string, paths: string[], verdict: Verdict) => void;
  /** The session's dev-server output (null before the first effect ran). */
  logs: LogFeed | null;
}

interface Owned {
  controller: WorkspaceSessionController;
  lease: SocketLease;
}

/**
 * The page's workspace: a session of `projectId`, created once the project is known and replaced
 * when it changes, deleted on unmount and, best effort, when the tab closes. Follows the start
 * through the tab's socket, polling the status as a fallback.
 */
export function useWorkspace(options: UseWorkspaceOptions): UseWorkspaceResult {
  const { projectId } = options;
  const [snapshot, setSnapshot] = useState<WorkspaceSnapshot>(EMPTY_WORKSPACE_SNAPSHOT);
  const templateName = useRef(options.templateName).current;
  const ownerRef = useRef<DeferredOwner<Owned> | null>(null);
  // Creating the owner creates nothing else: the socket comes with the first `acquire`, the
  // workspace once a project is chosen.
  ownerRef.current ??= createDeferredOwner<Owned>(
    () => {
      const lease = acquireWorkspaceSocket();
      const controller = new WorkspaceSessionController({
        api: workspaceApi(),
        socket: lease.service,
        templateName,
      });
      return { controller, lease };
    },
    ({ controller, lease }) => {
      controller.dispose();
      lease.release();
    },
  );

  useEffect(() => {
    const owner = ownerRef.current!;
    const { controller } = owner.acquire();
    const stopListening = controller.subscribe(() => setSnapshot(controller.getSnapshot()));
    setSnapshot(controller.getSnapshot());

    // `pagehide` rather than `beforeunload`: it also fires on mobile and when entering bfcache.
    const onPageHide = (): void => void controller.deleteWorkspace({ keepalive: true });
    const onPageShow = (event: PageTransitionEvent): void => {
      if (event.persisted && controller.project) void controller.createWorkspace();
    };
    window.addEventListener('pagehide', onPageHide);
    window.addEventListener('pageshow', onPageShow);

    return () => {
      stopListening();
      window.removeEventListener('pagehide', onPageHide);
      window.removeEventListener('pageshow', onPageShow);
      owner.release();
    };
  }, []);

  // After the effect above, so the controller exists; a project switch ends the old session first.
  useEffect(() => {
    const controller = ownerRef.current?.current?.controller;
    if (controller && projectId) void controller.openProject(projectId);
  }, [projectId]);

  const createWorkspace = useCallback(
    () => ownerRef.current?.current?.controller.createWorkspace() ?? Promise.resolve(null),
    [],
  );
  const deleteWorkspace = useCallback(
    () => ownerRef.current?.current?.controller.deleteWorkspace() ?? Promise.resolve(),
    [],
  );
  const restartWorkspace = useCallback(
    () => ownerRef.current?.current?.controller.restartWorkspace() ?? Promise.resolve(null),
    [],
  );

  const reportVerdict = useCallback(
    (sessionId: string, paths: string[], verdict: Verdict) =>
      ownerRef.current?.current?.controller.reportVerdict(sessionId, paths, verdict),
    [],
  );
  const logs = ownerRef.current?.current?.controller.logs ?? null;

  return { ...snapshot, createWorkspace, deleteWorkspace, restartWorkspace, reportVerdict, logs };
}

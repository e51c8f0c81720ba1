import { EventEmitter } from 'node:events';
import { Injectable } from '@nestjs/common';
import type {
  BuildErrorEvent,
  BuildStatusEvent,
  BuildStep,
  HMREvent,
  LogEvent,
  StatusEvent,
  VerdictOkEvent,
  WorkspaceStatus,
} from '@builder/shared';

/**
 * Events of workspaces, by name, as the gateway relays them to sockets (the payloads of
 * `ServerToClientEvents`): lifecycle from the workspace service, HMR and logs from the dev server,
 * compile verdicts from the verdict service.
 */
export interface WorkspaceEventMap {
  'build-status': BuildStatusEvent;
  status: StatusEvent;
  error: BuildErrorEvent;
  ok: VerdictOkEvent;
  'hmr-update': HMREvent;
  log: LogEvent;
}

export type WorkspaceEventName = keyof WorkspaceEventMap;

/**
 * Typed in-process event bus of workspace events. Publishers: the workspace service (lifecycle),
 * the HMR relay and the log follower (dev server), the verdict service (compile verdicts); the
 * socket gateway subscribes and relays to the session's room.
 */
@Injectable()
export class WorkspaceEventsService {
  private readonly emitter = new EventEmitter();

  constructor() {
    // One listener per gateway and per test; no leak warnings for a handful.
    this.emitter.setMaxListeners(100);
  }

  emit<K extends WorkspaceEventName>(name: K, event: WorkspaceEventMap[K]): void {
    this.emitter.emit(name, event);
  }

  /** A session's status changed (stamped now). */
  statusChanged(
    sessionId: string,
    status: WorkspaceStatus,
    previous: WorkspaceStatus | null,
    reason?: string,
  ): void {
    this.emit('status', {
      sessionId,
      status,
      previous,
      ...(reason ? { reason } : {}),
      at: new Date().toISOString(),
    });
  }

  /** A session's start reached a step (stamped now). */
  buildStep(
    sessionId: string,
    step: BuildStep,
    extra: { message?: string; queuePosition?: number } = {},
  ): void {
    this.emit('build-status', { sessionId, step, ...extra, at: new Date().toISOString() });
  }

  /** Subscribes; answers the function that unsubscribes. */
  on<K extends WorkspaceEventName>(name: K, listener: (event: WorkspaceEventMap[K]) => void): () => void {
    this.emitter.on(name, listener);
    return () => {
      this.emitter.off(name, listener);
    };
  }

  /** Every event of one session, in order. Answers the function that unsubscribes. */
  onSession(
    sessionId: string,
    listener: <K extends WorkspaceEventName>(name: K, event: WorkspaceEventMap[K]) => void,
  ): () => void {
    const names: WorkspaceEventName[] = ['build-status', 'status', 'error', 'ok', 'hmr-update', 'log'];
    const offs = names.map((name) =>
      this.on(name, (event: WorkspaceEventMap[typeof name]) => {
        if (event.sessionId === sessionId) listener(name, event);
      }),
    );
    return () => offs.forEach((off) => off());
  }
}

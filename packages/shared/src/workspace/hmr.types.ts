import type { WorkspaceStatus } from './workspace.types';

/** Socket.IO namespace of the workspace gateway, served on the API's port. */
export const WORKSPACE_NAMESPACE = '/workspace';

/** Start-up steps of a workspace, in the order they happen. */
export const BUILD_STEPS = [
  'queued',
  'creating',
  'pulling',
  'starting',
  'installing',
  'ready',
  'error',
] as const;
export type BuildStep = (typeof BUILD_STEPS)[number];

export interface BuildStatusEvent {
  sessionId: string;
  step: BuildStep;
  message?: string;
  /** Position in the start queue (step `queued`). */
  queuePosition?: number;
  at: string;
}

/** Kind of update the dev server made: a module swap, a full page reload, or a CSS swap. */
export type HmrUpdateKind = 'update' | 'full-reload' | 'css';

export interface FileChangeEvent {
  path: string;
  change: 'add' | 'change' | 'unlink';
}

/** One hot update relayed from the workspace's dev server. */
export interface HMREvent {
  sessionId: string;
  kind: HmrUpdateKind;
  /** Workspace-relative paths the update concerns. */
  paths: string[];
  at: string;
}
export type HmrUpdateEvent = HMREvent;

export type ContainerHealth = 'starting' | 'healthy' | 'unhealthy' | 'unknown';

export interface StatusEvent {
  sessionId: string;
  status: WorkspaceStatus;
  previous: WorkspaceStatus | null;
  health?: ContainerHealth;
  reason?: string;
  at: string;
}

/**
 * Where the dev server failed to compile or render. `file` is workspace-relative; `line` and
 * `column` are 1-based; `frame` is the dev server's code frame around the spot.
 */
export interface CompileError {
  file?: string;
  line?: number;
  column?: number;
  message: string;
  frame?: string;
}

/** Whether the pages a change affects compile, after that change (see {@link VerdictOkEvent}). */
export interface Verdict {
  ok: boolean;
  /** Empty when `ok`. */
  errors: CompileError[];
}

/** A build error reported by the dev server. */
export interface BuildErrorEvent extends CompileError {
  sessionId: string;
  /** Set when the error is the verdict of a change through the files API: the paths it changed. */
  paths?: string[];
  at: string;
}

/**
 * The verdict of a change through the files API when everything it affects compiles: the dev
 * server built each page (and style module) the change touches without an error. It clears
 * earlier `error` events of the session.
 */
export interface VerdictOkEvent {
  sessionId: string;
  /** The paths the change wrote or deleted. */
  paths: string[];
  /** What the dev server compiled for the verdict: page routes (`/`, `/about`) and module URLs. */
  checked: string[];
  at: string;
}

/** Build state of the dev server as last seen. */
export type BuildStatus = 'idle' | 'building' | 'ok' | 'error';

export interface LogEvent {
  sessionId: string;
  stream: 'stdout' | 'stderr';
  line: string;
  at: string;
}

/** State of the browser's socket to the gateway. */
export type ConnectionStatus = 'connecting' | 'connected' | 'reconnecting' | 'disconnected';

export interface SubscribeRequest {
  sessionId: string;
}

export type SubscribeAck = { ok: true } | { ok: false; error: string };

/** Events the gateway sends. Types both the gateway and the frontend client. */
export interface ServerToClientEvents {
  'build-status': (event: BuildStatusEvent) => void;
  'hmr-update': (event: HMREvent) => void;
  status: (event: StatusEvent) => void;
  error: (event: BuildErrorEvent) => void;
  /** The verdict of a change when it compiles (a change that does not gets `error` events instead). */
  ok: (event: VerdictOkEvent) => void;
  /** Dev-server output, rate-limited; a subscriber first gets the last lines again. */
  log: (event: LogEvent) => void;
}

/** Events a client sends. */
export interface ClientToServerEvents {
  subscribe: (request: SubscribeRequest, ack: (result: SubscribeAck) => void) => void;
  unsubscribe: (request: SubscribeRequest, ack: (result: SubscribeAck) => void) => void;
}

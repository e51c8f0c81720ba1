import type { ResourceAllocation } from './workspace.types';

/** What a runtime needs to create one workspace. */
export interface ContainerSpec {
  sessionId: string;
  userId: string;
  /** Container name: `workspace-<userId>-<timestamp>`. */
  name: string;
  image: string;
  templateName: string;
  /** Host port the dev server is published on. */
  hostPort: number;
  /** Port the dev server listens on inside the workspace. */
  containerPort: number;
  resources: ResourceAllocation;
  env: Record<string, string>;
  labels: Record<string, string>;
}

export type ContainerState = 'created' | 'running' | 'paused' | 'restarting' | 'exited' | 'dead' | 'missing';

export interface ContainerInfo {
  id: string;
  name: string;
  state: ContainerState;
  health: 'starting' | 'healthy' | 'unhealthy' | 'none';
  exitCode: number | null;
  oomKilled: boolean;
  startedAt: string | null;
  labels: Record<string, string>;
  /**
   * Set when the workspace can never run again where it ran, e.g. its node left the cluster: why,
   * in words for its owner. Such a workspace is ended at once instead of restarted.
   */
  lost?: string;
}

export interface ContainerStats {
  cpuPercent: number;
  memoryBytes: number;
  memoryLimitBytes: number;
  pids: number;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

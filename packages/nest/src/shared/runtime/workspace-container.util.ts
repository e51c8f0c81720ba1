import type { ContainerSpec } from '@builder/shared';
import { DEFAULT_CONTAINER_PORT, DEV_SERVER_ENV, DEV_SERVER_NODE_FLAGS } from './dev-server.constants';
import { WORKSPACE_LABELS } from './workspace-runtime.interface';
import { WORKSPACE_GID, WORKSPACE_UID } from './workspace-tar.util';

/**
 * What a workspace container is made of, on any engine that runs the template image (a plain
 * container of the `docker` runtime, a task of the `swarm` runtime): its labels, command,
 * environment, user, scratch mounts and health check. Each runtime puts these into its own API's
 * shape.
 */

/** Where the template images keep the workspace; the per-session volume is mounted here. */
export const WORKSPACE_DIR = '/app';
/** The image's readiness probe (Docker's own health check, when turned on). */
export const HEALTHCHECK_SCRIPT = '/usr/local/share/preview/healthcheck.js';
/** The image's entrypoint: links the shared dependencies and runs the dev server it is given. */
export const WORKSPACE_ENTRYPOINT = '/usr/local/bin/docker-entrypoint.sh';
/** The user every workspace process runs as: the `node` user of the template images. */
export const WORKSPACE_USER = `${WORKSPACE_UID}:${WORKSPACE_GID}`;
/** Writable scratch space under the read-only root file system, in bytes. */
export const WORKSPACE_TMPFS: Readonly<Record<string, number>> = {
  '/tmp': 64 * 1024 * 1024,
  '/home/node': 16 * 1024 * 1024,
};
const SECOND_NS = 1_000_000_000;

/**
 * The labels of everything made for a workspace. Ours last: a caller's labels must not forge the
 * ones reconciliation trusts.
 */
export function workspaceLabels(spec: ContainerSpec, deploymentId?: string): Record<string, string> {
  return {
    ...spec.labels,
    [WORKSPACE_LABELS.managed]: 'true',
    [WORKSPACE_LABELS.sessionId]: spec.sessionId,
    [WORKSPACE_LABELS.userId]: spec.userId,
    [WORKSPACE_LABELS.template]: spec.templateName,
    ...(deploymentId ? { [WORKSPACE_LABELS.deployment]: deploymentId } : {}),
  };
}

/** The port the dev server listens on inside the workspace. */
export function devServerPort(spec: ContainerSpec): number {
  return spec.containerPort || DEFAULT_CONTAINER_PORT;
}

/**
 * Straight to astro, skipping npm (~0.3 s and one process less); the image's entrypoint runs it.
 */
export function devServerCommand(port: number): string[] {
  return ['node', ...DEV_SERVER_NODE_FLAGS, 'node_modules/astro/astro.js', 'dev', '--host', '0.0.0.0', '--port', String(port)];
}

/** The dev server's environment: the caller's, then the fixed development settings. */
export function devServerEnv(spec: ContainerSpec, port: number): Record<string, string> {
  return { ...spec.env, ...DEV_SERVER_ENV, HEALTHCHECK_URL: `http://127.0.0.1:${port}/` };
}

/** `KEY=value` lines, as the engine takes an environment. */
export function envList(env: Record<string, string>): string[] {
  return Object.entries(env).map(([key, value]) => `${key}=${value}`);
}

/**
 * Docker's own health check of a workspace: the image's node script every `intervalMs`, or none
 * (0). Off by default: each check is a process in the container (see healthcheckIntervalMs).
 */
export function workspaceHealthcheck(intervalMs: number): {
  Test: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  Retries?: number;
} {
  if (intervalMs <= 0) return { Test: ['NONE'] };
  return {
    Test: ['CMD', 'node', HEALTHCHECK_SCRIPT],
    Interval: intervalMs * 1_000_000,
    Timeout: 6 * SECOND_NS,
    StartPeriod: 5 * SECOND_NS,
    Retries: 3,
  };
}

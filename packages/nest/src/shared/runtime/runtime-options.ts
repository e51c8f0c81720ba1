import { createHash } from 'node:crypto';
import { isAbsolute } from 'node:path';

/** Injection token of the {@link RuntimeOptions} the importer of `RuntimeModule` provides. */
export const RUNTIME_OPTIONS = Symbol('RUNTIME_OPTIONS');

/**
 * Which runtime runs workspaces: `auto` picks `docker` when the engine answers, else `local`;
 * `swarm` is chosen explicitly (the engine must be a swarm manager and this backend a container).
 */
export type RuntimeChoice = 'auto' | 'docker' | 'local' | 'swarm';

/** Settings of the workspace runtime layer, read once at start-up by the importer's config. */
export interface RuntimeOptions {
  runtime: RuntimeChoice;
  /** Docker engine address: a unix socket path (default `/var/run/docker.sock`) or `tcp://host:port`. */
  dockerSocket: string;
  /** Image of the default template. */
  templateImage: string;
  /** Absolute host path of `workspace-templates/baseline-landing` (sources and, for `local`, its node_modules). */
  templateDir: string;
  /** Absolute folder of backend data; `local` keeps one folder per workspace under `<dataDir>/workspaces`. */
  dataDir: string;
  /** User-defined bridge network every workspace container joins. */
  networkName: string;
  /**
   * Write workspace files straight into the volume's folder when the engine runs on this host
   * (much faster than the archive API; confined against symlinks). Off: always through the engine.
   */
  hostVolumeWrites: boolean;
  /** Linux bridge of that network; the workspace firewall rules match it by name. */
  bridgeName: string;
  /** Host address the dev server ports are published on. */
  publishHost: string;
  /** Bound of start-up waits (engine calls, dev server readiness). */
  startTimeoutMs: number;
  /** Bound of an image pull. */
  pullTimeoutMs: number;
  /** Bound of ordinary engine calls (inspect, create, file copies). */
  operationTimeoutMs: number;
  /**
   * Interval of Docker's own health check of each workspace; 0 turns it off. Each check is a
   * process the engine starts inside the container: measured here ~0.19 CPU-s with the image's
   * node script (~0.09 with busybox wget), so every 10 s it would cost ~2 cores for 101 idle
   * workspaces. Off by default: the backend's health monitor probes every dev server over HTTP
   * (HEALTH_INTERVAL_MS) at a fraction of that.
   */
  healthcheckIntervalMs: number;
  /** Value of the deployment label put on every workspace (see WORKSPACE_LABELS.deployment). */
  deploymentId?: string;
  /**
   * Swarm: the container of this backend, joined to each workspace's network so it reaches the
   * dev server and agent by service name. Unset: this host name, which Docker sets to the
   * container's id.
   */
  swarmAttachContainer?: string;
  /**
   * Swarm: the CPU limit of each workspace, in cores (default the plan's 0.5). A service's quota
   * is accounted per 100 ms and cannot change without replacing the task, so the docker runtime's
   * "half a core once ready, per second" is not available: the limit holds from the start, which
   * slows a cold start (see SWARM_CPU_LIMIT_CORES for the measured cost).
   */
  swarmCpuLimitCores: number;
  /** Swarm: CPU cores reserved for each workspace when Swarm places it (memory is reserved at its limit). */
  swarmCpuReservationCores: number;
  /** Swarm: placement constraints of every workspace service, e.g. `node.role==worker`. */
  swarmPlacementConstraints: string[];
  /**
   * A kernel-enforced storage limit per Docker workspace (see LoopVolumes): `auto` where it can be
   * made, `loop` always (a create fails where it cannot), `off` never.
   */
  storageHardLimit: 'auto' | 'loop' | 'off';
}

export const DEFAULT_RUNTIME_OPTIONS = {
  runtime: 'auto',
  dockerSocket: '/var/run/docker.sock',
  templateImage: 'localhost:5000/baseline-landing-template:latest',
  networkName: 'builder-workspaces',
  bridgeName: 'br-builder-ws',
  hostVolumeWrites: true,
  publishHost: '127.0.0.1',
  startTimeoutMs: 60_000,
  pullTimeoutMs: 300_000,
  operationTimeoutMs: 30_000,
  healthcheckIntervalMs: 0,
  swarmCpuLimitCores: 0.5,
  swarmCpuReservationCores: 0.1,
  swarmPlacementConstraints: [],
  storageHardLimit: 'auto',
} as const satisfies Partial<RuntimeOptions>;

/** Options with only the paths required; everything else falls back to {@link DEFAULT_RUNTIME_OPTIONS}. */
export type RuntimeOptionsInput = Partial<RuntimeOptions> & Pick<RuntimeOptions, 'templateDir' | 'dataDir'>;

/** Fills defaults and refuses values the runtimes cannot work with, naming the option. */
export function resolveRuntimeOptions(input: RuntimeOptionsInput): RuntimeOptions {
  const options = { ...DEFAULT_RUNTIME_OPTIONS, ...stripUndefined(input) } as RuntimeOptions;
  // Bridge names are unique per engine: another network (a test's) gets its own, derived name
  // (15 characters at most, the kernel's limit for an interface name).
  if (input.bridgeName === undefined && options.networkName !== DEFAULT_RUNTIME_OPTIONS.networkName) {
    options.bridgeName = `br-${createHash('sha256').update(options.networkName).digest('hex').slice(0, 12)}`;
  }
  if (!['auto', 'docker', 'local', 'swarm'].includes(options.runtime)) {
    throw new Error(
      `runtime option "runtime" must be auto, docker, local or swarm, got "${String(options.runtime)}"`,
    );
  }
  if (!Number.isFinite(options.swarmCpuLimitCores) || options.swarmCpuLimitCores <= 0) {
    throw new Error(
      `runtime option "swarmCpuLimitCores" must be a positive number, got "${String(options.swarmCpuLimitCores)}"`,
    );
  }
  if (!Number.isFinite(options.swarmCpuReservationCores) || options.swarmCpuReservationCores < 0) {
    throw new Error(
      `runtime option "swarmCpuReservationCores" must be 0 or a positive number, got "${String(options.swarmCpuReservationCores)}"`,
    );
  }
  for (const key of ['templateDir', 'dataDir'] as const) {
    if (!options[key] || !isAbsolute(options[key])) {
      throw new Error(`runtime option "${key}" must be an absolute path, got "${String(options[key])}"`);
    }
  }
  for (const key of ['startTimeoutMs', 'pullTimeoutMs', 'operationTimeoutMs'] as const) {
    if (!Number.isFinite(options[key]) || options[key] <= 0) {
      throw new Error(`runtime option "${key}" must be a positive number, got "${String(options[key])}"`);
    }
  }
  if (!Number.isFinite(options.healthcheckIntervalMs) || options.healthcheckIntervalMs < 0) {
    throw new Error(
      `runtime option "healthcheckIntervalMs" must be 0 (off) or a positive number, got "${String(options.healthcheckIntervalMs)}"`,
    );
  }
  if (!['auto', 'loop', 'off'].includes(options.storageHardLimit)) {
    throw new Error(
      `runtime option "storageHardLimit" must be auto, loop or off, got "${String(options.storageHardLimit)}"`,
    );
  }
  if (!options.networkName) throw new Error('runtime option "networkName" must not be empty');
  return options;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

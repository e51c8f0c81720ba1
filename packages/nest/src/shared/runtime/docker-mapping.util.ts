import type Dockerode from 'dockerode';
import type { ContainerInfo, ContainerState, ContainerStats } from '@builder/shared';

const CONTAINER_STATES: ReadonlySet<string> = new Set<ContainerState>([
  'created',
  'running',
  'paused',
  'restarting',
  'exited',
  'dead',
]);
const HEALTH_STATES: ReadonlySet<string> = new Set(['starting', 'healthy', 'unhealthy']);
/** What Docker reports as the start time of a container that never started. */
const ZERO_TIME = '0001-01-01T00:00:00Z';

/** Maps Docker's inspect document to the runtime-neutral {@link ContainerInfo}. */
export function toContainerInfo(info: Dockerode.ContainerInspectInfo): ContainerInfo {
  const state = info.State;
  const status = state.Status;
  const health = state.Health?.Status;
  const hasRun = status === 'exited' || status === 'dead';
  return {
    id: info.Id,
    name: info.Name.replace(/^\//, ''),
    // 'removing' (and anything newer) is a container on its way out: report it as dead.
    state: CONTAINER_STATES.has(status) ? (status as ContainerState) : 'dead',
    health: health && HEALTH_STATES.has(health) ? (health as ContainerInfo['health']) : 'none',
    exitCode: hasRun ? state.ExitCode : null,
    oomKilled: state.OOMKilled,
    startedAt:
      state.StartedAt && state.StartedAt !== ZERO_TIME && !state.StartedAt.startsWith('0001-')
        ? state.StartedAt
        : null,
    labels: info.Config.Labels ?? {},
  };
}

/**
 * CPU use as `docker stats` computes it: the container's share of the host's CPU time between the
 * two samples of one stats answer, scaled by the number of CPUs (100 = one full core).
 */
export function cpuPercent(stats: Pick<Dockerode.ContainerStats, 'cpu_stats' | 'precpu_stats'>): number {
  const cpuDelta =
    (stats.cpu_stats?.cpu_usage?.total_usage ?? 0) - (stats.precpu_stats?.cpu_usage?.total_usage ?? 0);
  const systemDelta = (stats.cpu_stats?.system_cpu_usage ?? 0) - (stats.precpu_stats?.system_cpu_usage ?? 0);
  const cpus = stats.cpu_stats?.online_cpus || stats.cpu_stats?.cpu_usage?.percpu_usage?.length || 1;
  if (cpuDelta <= 0 || systemDelta <= 0) return 0;
  return Math.round((cpuDelta / systemDelta) * cpus * 100 * 100) / 100;
}

/** Memory in use without the page cache (cgroup v1 `total_inactive_file`, v2 `inactive_file`), as `docker stats`. */
export function memoryUsage(memory: Dockerode.ContainerStats['memory_stats'] | undefined): number {
  if (!memory?.usage) return 0;
  const stats = (memory.stats ?? {}) as Partial<Record<string, number>>;
  const cache = stats.total_inactive_file ?? stats.inactive_file ?? 0;
  return Math.max(0, memory.usage - (cache < memory.usage ? cache : 0));
}

export function toContainerStats(stats: Dockerode.ContainerStats): ContainerStats {
  return {
    cpuPercent: cpuPercent(stats),
    memoryBytes: memoryUsage(stats.memory_stats),
    memoryLimitBytes: stats.memory_stats?.limit ?? 0,
    pids: stats.pids_stats?.current ?? 0,
  };
}

/** The container port of the first published port (`'4321/tcp'` → 4321), or the fallback. */
export function publishedContainerPort(portBindings: unknown, fallback: number): number {
  if (portBindings && typeof portBindings === 'object') {
    for (const key of Object.keys(portBindings)) {
      const port = Number.parseInt(key, 10);
      if (Number.isInteger(port) && port > 0) return port;
    }
  }
  return fallback;
}

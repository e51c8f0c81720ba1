import type Dockerode from 'dockerode';
import type { ContainerInfo, ContainerState } from '@builder/shared';
import type { SwarmNode, SwarmTask } from '../services/docker.service';

/** The dev server as the workspace agent reports it (`GET /v1/state`). */
export interface DevServerState {
  state: 'created' | 'running' | 'exited';
  exitCode: number | null;
  startedAt: string | null;
  oomKilled: boolean;
}

/** Task states before its container runs: the workspace is still being placed or started. */
const STARTING_TASK_STATES: ReadonlySet<string> = new Set([
  'new',
  'allocated',
  'pending',
  'assigned',
  'accepted',
  'preparing',
  'ready',
  'starting',
]);
/** Node states in which the swarm no longer hears from a node (`unknown` is a manager still catching up). */
const LOST_NODE_STATES: ReadonlySet<string> = new Set(['down', 'disconnected']);

/**
 * A swarm workspace (one service, one replica) as the runtime-neutral {@link ContainerInfo}. Its
 * state is the dev server's, as the agent reports it, while the task runs; otherwise the task's.
 * A workspace is `lost` (and `dead`) when the task holding its files ran on a node the swarm lost,
 * or when the swarm replaced that task (its files, in the task's own volume, went with it).
 */
export function toWorkspaceInfo(
  service: Dockerode.Service,
  tasks: readonly SwarmTask[],
  nodes: ReadonlyMap<string, SwarmNode>,
  devServer: DevServerState | null,
): ContainerInfo {
  const own = tasks
    .filter((task) => task.ServiceID === service.ID)
    .sort((a, b) => (a.CreatedAt < b.CreatedAt ? -1 : a.CreatedAt > b.CreatedAt ? 1 : 0));
  const info: ContainerInfo = {
    id: service.ID,
    name: service.Spec?.Name ?? service.ID,
    state: 'created',
    health: 'none',
    exitCode: null,
    oomKilled: false,
    startedAt: null,
    labels: service.Spec?.Labels ?? {},
  };
  if (own.length === 0) return info;

  const first = own[0];
  const current = [...own].reverse().find((task) => task.DesiredState === 'running') ?? own[own.length - 1];
  const firstNode = first.NodeID ? nodes.get(first.NodeID) : undefined;
  if (firstNode && LOST_NODE_STATES.has(firstNode.Status.State)) {
    const host = firstNode.Description?.Hostname ?? firstNode.ID;
    info.lost = `the node ${host} running this workspace was lost (the swarm marked it ${firstNode.Status.State}); the workspace and its files there are gone`;
  } else if (own.length > 1) {
    const why = first.Status.Err || first.Status.Message || first.Status.State;
    info.lost = `the swarm replaced this workspace's task after it ended (${why}); its files went with it`;
  }

  const taskState = current.Status.State;
  if (taskState === 'running') {
    info.state = devServer?.state ?? 'running';
    info.exitCode = devServer?.state === 'exited' ? devServer.exitCode : null;
    info.oomKilled = devServer?.oomKilled ?? false;
    info.startedAt = devServer?.startedAt ?? current.Status.Timestamp ?? null;
  } else if (!STARTING_TASK_STATES.has(taskState)) {
    info.state = (taskState === 'complete' ? 'exited' : 'dead') satisfies ContainerState;
    info.exitCode = current.Status.ContainerStatus?.ExitCode ?? null;
  }
  if (info.lost) info.state = 'dead';
  return info;
}

/** The port the dev server was told to listen on (`--port N` in the service's arguments), or the fallback. */
export function devServerPortOf(service: Dockerode.Service, fallback: number): number {
  const spec = service.Spec?.TaskTemplate as Dockerode.ContainerTaskSpec | undefined;
  const args = spec?.ContainerSpec?.Args ?? [];
  const at = args.indexOf('--port');
  const port = at >= 0 ? Number(args[at + 1]) : NaN;
  return Number.isInteger(port) && port > 0 ? port : fallback;
}

/** A variable of the service's task environment, or undefined. */
export function serviceEnv(service: Dockerode.Service, key: string): string | undefined {
  const spec = service.Spec?.TaskTemplate as Dockerode.ContainerTaskSpec | undefined;
  const line = spec?.ContainerSpec?.Env?.find((entry) => entry.startsWith(`${key}=`));
  return line?.slice(key.length + 1);
}

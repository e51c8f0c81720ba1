import type Dockerode from 'dockerode';
import { describe, expect, it } from 'vitest';
import type { SwarmNode, SwarmTask } from '../services/docker.service';
import { devServerPortOf, serviceEnv, toWorkspaceInfo } from './swarm-mapping.util';

const service = {
  ID: 'svc1',
  Spec: {
    Name: 'ws-s1',
    Labels: { 'dev.builder.session-id': 's1' },
    TaskTemplate: { ContainerSpec: { Args: ['entry', 'node', 'astro', 'dev', '--port', '4400'], Env: ['A=1', 'WORKSPACE_AGENT_TOKEN=t=x'] } },
  },
} as unknown as Dockerode.Service;

function task(id: string, state: string, at: string, extra: Partial<SwarmTask> = {}): SwarmTask {
  return { ID: id, ServiceID: 'svc1', NodeID: 'n1', CreatedAt: at, DesiredState: 'running', Status: { State: state }, ...extra };
}
const ready = new Map<string, SwarmNode>([['n1', { ID: 'n1', Description: { Hostname: 'worker-1' }, Status: { State: 'ready' } }]]);
const down = new Map<string, SwarmNode>([['n1', { ID: 'n1', Description: { Hostname: 'worker-1' }, Status: { State: 'down' } }]]);

describe('toWorkspaceInfo', () => {
  it('is created before its first task, and while the task is placed', () => {
    expect(toWorkspaceInfo(service, [], ready, null)).toMatchObject({ id: 'svc1', name: 'ws-s1', state: 'created', labels: { 'dev.builder.session-id': 's1' } });
    expect(toWorkspaceInfo(service, [task('t1', 'preparing', '1')], ready, null).state).toBe('created');
  });

  it("reports the dev server's state while the task runs", () => {
    const running = toWorkspaceInfo(service, [task('t1', 'running', '1')], ready, { state: 'running', exitCode: null, startedAt: 'then', oomKilled: false });
    expect(running).toMatchObject({ state: 'running', exitCode: null, startedAt: 'then' });
    const killed = toWorkspaceInfo(service, [task('t1', 'running', '1')], ready, { state: 'exited', exitCode: 137, startedAt: 'then', oomKilled: true });
    expect(killed).toMatchObject({ state: 'exited', exitCode: 137, oomKilled: true });
    expect(killed.lost).toBeUndefined();
  });

  it("reports the task's end when it no longer runs", () => {
    const failed = task('t1', 'failed', '1', { DesiredState: 'shutdown', Status: { State: 'failed', ContainerStatus: { ExitCode: 2 } } });
    expect(toWorkspaceInfo(service, [failed], ready, null)).toMatchObject({ state: 'dead', exitCode: 2 });
  });

  it('is lost when the node of its task is down, even after the swarm placed it again', () => {
    const first = task('t1', 'running', '1', { DesiredState: 'shutdown' });
    const second = task('t2', 'running', '2', { NodeID: 'n2' });
    const info = toWorkspaceInfo(service, [second, first], down, { state: 'running', exitCode: null, startedAt: null, oomKilled: false });
    expect(info.state).toBe('dead');
    expect(info.lost).toMatch(/node worker-1 running this workspace was lost/);
  });

  it('is lost when the swarm replaced its task (the files went with the first one)', () => {
    const first = task('t1', 'failed', '1', { DesiredState: 'shutdown', Status: { State: 'failed', Err: 'task: non-zero exit (1)' } });
    const info = toWorkspaceInfo(service, [first, task('t2', 'running', '2')], ready, null);
    expect(info).toMatchObject({ state: 'dead', lost: expect.stringMatching(/replaced .*non-zero exit/) });
  });
});

describe('service spec readers', () => {
  it('read the dev server port and an environment variable', () => {
    expect(devServerPortOf(service, 4321)).toBe(4400);
    expect(devServerPortOf({ ID: 'x' } as Dockerode.Service, 4321)).toBe(4321);
    expect(serviceEnv(service, 'WORKSPACE_AGENT_TOKEN')).toBe('t=x');
    expect(serviceEnv(service, 'MISSING')).toBeUndefined();
  });
});
